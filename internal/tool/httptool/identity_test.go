package httptool_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/causeway-ai/causeway/internal/config"
	"github.com/causeway-ai/causeway/internal/identity"
	"github.com/causeway-ai/causeway/internal/tool"
)

// TestIdentityHeaders: every call carries its own caller's tenant and
// user, signed with the tool's identity_secret, under parallel calls of
// several callers; a configured header cannot impersonate a caller, and
// the caller's key is never sent.
func TestIdentityHeaders(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := r.Header
		_ = json.NewEncoder(w).Encode(map[string]string{
			"tag": r.URL.Query().Get("tag"), "tenant": h.Get(tool.HeaderTenant), "user": h.Get(tool.HeaderUser),
			"sig": h.Get(tool.HeaderIdentity), "authorization": h.Get("Authorization"),
		})
	}))
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	const secret = "identity-s3cret"
	tl := newTool(t, config.HTTPTool{URL: srv.URL + "/who", AllowHosts: []string{u.Host}, IdentitySecret: secret,
		Headers: map[string]config.Secret{"Authorization": "Bearer tool-token", "X-Causeway-User": "mallory"}})

	callers := []*identity.Principal{
		{Tenant: "acme", User: "alice", Key: &identity.Key{ID: "key_a"}},
		{Tenant: "globex", User: "bob", Key: &identity.Key{ID: "key_b"}},
		{Tenant: "acme", Key: &identity.Key{ID: "key_c"}},
	}
	var wg sync.WaitGroup
	for _, p := range callers {
		for i := range 10 {
			wg.Go(func() {
				tag := fmt.Sprintf("%s-%d", p.Key.ID, i)
				res, err := tl.Call(t.Context(), tool.Call{Principal: p, Arguments: json.RawMessage(`{"tag":"` + tag + `"}`)})
				if err != nil {
					t.Errorf("call %s: %v", tag, err)
					return
				}
				var got map[string]string
				if err := json.Unmarshal([]byte(res.Output), &got); err != nil {
					t.Errorf("call %s: %q: %v", tag, res.Output, err)
					return
				}
				if got["tag"] != tag || got["tenant"] != p.Tenant || got["user"] != p.User {
					t.Errorf("call %s as %s/%s: the server saw %v", tag, p.Tenant, p.User, got)
				}
				if err := tool.Verify(secret, got["sig"], p.Tenant, p.User, time.Now(), time.Minute); err != nil {
					t.Errorf("call %s: signature %q: %v", tag, got["sig"], err)
				}
				if got["authorization"] != "Bearer tool-token" {
					t.Errorf("call %s: Authorization %q, want the tool's configured one", tag, got["authorization"])
				}
			})
		}
	}
	wg.Wait()
}

// TestIdentityNotRedirected: a redirect to another host takes neither
// the identity nor the configured headers along.
func TestIdentityNotRedirected(t *testing.T) {
	var mu sync.Mutex
	var leaked []string
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		for _, k := range []string{tool.HeaderTenant, tool.HeaderUser, tool.HeaderIdentity, "X-Api-Key"} {
			if v := r.Header.Get(k); v != "" {
				leaked = append(leaked, k+": "+v)
			}
		}
		mu.Unlock()
		_, _ = w.Write([]byte("landed"))
	}))
	t.Cleanup(target.Close)
	var front http.Header
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		front = r.Header.Clone()
		http.Redirect(w, r, target.URL+"/elsewhere", http.StatusFound)
	}))
	t.Cleanup(redirector.Close)
	ru, _ := url.Parse(redirector.URL)
	tu, _ := url.Parse(target.URL)
	tl := newTool(t, config.HTTPTool{URL: redirector.URL + "/go", AllowHosts: []string{ru.Host, tu.Host},
		IdentitySecret: "s", Headers: map[string]config.Secret{"X-Api-Key": "k"}})
	res, err := tl.Call(t.Context(), tool.Call{Principal: &identity.Principal{Tenant: "acme", User: "alice"}})
	if err != nil || res.Output != "landed" {
		t.Fatalf("call: %+v, %v; want it to land on the target", res, err)
	}
	if front.Get(tool.HeaderUser) != "alice" || front.Get("X-Api-Key") != "k" {
		t.Errorf("the configured host saw %v, want the identity and the headers", front)
	}
	if len(leaked) > 0 {
		t.Errorf("the redirect target saw %v, want none of them", leaked)
	}
}
