package mcptool_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/causeway-ai/causeway/internal/config"
	"github.com/causeway-ai/causeway/internal/identity"
	"github.com/causeway-ai/causeway/internal/tool"
	"github.com/causeway-ai/causeway/internal/tool/mcptool"
)

// stdioIdentityArg makes the test binary the identity stdio server.
const stdioIdentityArg = "mcptool-stdio-identity-server"

// seen is what the whoami tool received: the identity in _meta and, over
// HTTP, the identity headers.
type seen struct {
	Meta          map[string]any `json:"meta"`
	Tenant        string         `json:"tenant_header"`
	User          string         `json:"user_header"`
	Signature     string         `json:"signature_header"`
	Authorization string         `json:"authorization_header"`
	Tag           string         `json:"tag"`
}

type whoamiIn struct {
	Tag string `json:"tag"`
}

// newIdentityServer has one tool, whoami, that reports what identity its
// call carried.
func newIdentityServer() *mcp.Server {
	srv := mcp.NewServer(&mcp.Implementation{Name: "id", Version: "1"}, nil)
	mcp.AddTool(srv, &mcp.Tool{Name: "whoami", Description: "Says who called."},
		func(_ context.Context, req *mcp.CallToolRequest, in whoamiIn) (*mcp.CallToolResult, any, error) {
			s := seen{Tag: in.Tag}
			if m, ok := req.Params.Meta[tool.MetaKey].(map[string]any); ok {
				s.Meta = m
			}
			if req.Extra != nil && req.Extra.Header != nil {
				h := req.Extra.Header
				s.Tenant, s.User = h.Get(tool.HeaderTenant), h.Get(tool.HeaderUser)
				s.Signature, s.Authorization = h.Get(tool.HeaderIdentity), h.Get("Authorization")
			}
			b, _ := json.Marshal(s)
			return textResult(string(b), false), nil, nil
		})
	return srv
}

// headerLog records, for every HTTP request to the MCP server, its
// JSON-RPC method and whether it carried an identity header.
type headerLog struct {
	mu      sync.Mutex
	methods map[string]int // method -> requests with X-Causeway-Tenant
	total   map[string]int
}

func (l *headerLog) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		var msg struct{ Method string }
		_ = json.Unmarshal(body, &msg)
		l.mu.Lock()
		if l.total == nil {
			l.methods, l.total = map[string]int{}, map[string]int{}
		}
		key := r.Method + " " + msg.Method
		l.total[key]++
		if r.Header.Get(tool.HeaderTenant) != "" || r.Header.Get(tool.HeaderIdentity) != "" {
			l.methods[key]++
		}
		l.mu.Unlock()
		h.ServeHTTP(w, r)
	})
}

func principal(tenant, user, keyID string) *identity.Principal {
	return &identity.Principal{Tenant: tenant, User: user, Key: &identity.Key{ID: keyID, Tenant: tenant, User: user}}
}

// whoami calls the tool as p and decodes what it saw.
func whoami(t *testing.T, tl tool.Tool, p *identity.Principal, tag string) seen {
	t.Helper()
	res, err := tl.Call(t.Context(), tool.Call{Principal: p, Arguments: json.RawMessage(`{"tag":"` + tag + `"}`)})
	if err != nil {
		t.Errorf("whoami as %s: %v", p.User, err)
		return seen{}
	}
	var s seen
	if err := json.Unmarshal([]byte(res.Output), &s); err != nil {
		t.Errorf("whoami output %q: %v", res.Output, err)
	}
	return s
}

// callersInParallel calls whoami as two callers at once, many times over
// one session, and checks each call carried its own caller in _meta (and,
// when headers is set, in the headers, signed with secret).
func callersInParallel(t *testing.T, tl tool.Tool, headers bool, secret string) {
	t.Helper()
	callers := []*identity.Principal{principal("acme", "alice", "key_a"), principal("globex", "bob", "key_b"), principal("acme", "", "key_c")}
	const perCaller = 10
	var wg sync.WaitGroup
	for _, p := range callers {
		for i := range perCaller {
			wg.Go(func() {
				tag := fmt.Sprintf("%s-%d", p.Key.ID, i)
				s := whoami(t, tl, p, tag)
				if s.Tag != tag {
					t.Errorf("call %s got the answer of call %s", tag, s.Tag)
				}
				want := map[string]any{"tenant": p.Tenant, "user": p.User, "key_id": p.Key.ID}
				for k, v := range want {
					if s.Meta[k] != v {
						t.Errorf("call %s: _meta %s = %v, want %v (meta %v)", tag, k, s.Meta[k], v, s.Meta)
					}
				}
				if !headers {
					return
				}
				if s.Tenant != p.Tenant || s.User != p.User {
					t.Errorf("call %s: headers tenant %q user %q, want %q %q", tag, s.Tenant, s.User, p.Tenant, p.User)
				}
				if secret == "" {
					if s.Signature != "" || s.Meta["signature"] != nil {
						t.Errorf("call %s: a signature without a secret: %q", tag, s.Signature)
					}
					return
				}
				if err := tool.Verify(secret, s.Signature, p.Tenant, p.User, time.Now(), time.Minute); err != nil {
					t.Errorf("call %s: header signature %q: %v", tag, s.Signature, err)
				}
				if sig, _ := s.Meta["signature"].(string); tool.Verify(secret, sig, p.Tenant, p.User, time.Now(), time.Minute) != nil {
					t.Errorf("call %s: _meta signature %q does not verify", tag, sig)
				}
				// Signed for this caller only.
				other := callers[0]
				if p == other {
					other = callers[1]
				}
				if tool.Verify(secret, s.Signature, other.Tenant, other.User, time.Now(), time.Minute) == nil {
					t.Errorf("call %s: signature verifies for %s too", tag, other.User)
				}
			})
		}
	}
	wg.Wait()
}

func TestIdentityOverHTTP(t *testing.T) {
	log := &headerLog{}
	hs := httptest.NewServer(log.wrap(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return newIdentityServer() }, nil)))
	t.Cleanup(hs.Close)
	const secret = "identity-s3cret"
	s := connect(t, config.MCPServer{
		Name: "id",
		URL:  hs.URL,
		Headers: map[string]config.Secret{
			"Authorization":     "Bearer server-token",
			"X-Causeway-User":   "mallory", // a configured header cannot impersonate
			"X-Causeway-Tenant": "evil",
		},
		IdentitySecret: secret,
	}, mcptool.NewMemoryPins())
	tl := find(t, s, "id__whoami")
	callersInParallel(t, tl, true, secret)

	if got := whoami(t, tl, principal("acme", "alice", "key_a"), "x").Authorization; got != "Bearer server-token" {
		t.Errorf("Authorization = %q, want the configured server token (never the caller's key)", got)
	}
	// Only tool calls carry an identity: the session's own requests are
	// shared by every caller.
	log.mu.Lock()
	defer log.mu.Unlock()
	if log.methods["POST tools/call"] != log.total["POST tools/call"] || log.total["POST tools/call"] == 0 {
		t.Errorf("tools/call requests with identity: %d of %d, want all", log.methods["POST tools/call"], log.total["POST tools/call"])
	}
	for k, n := range log.methods {
		if k != "POST tools/call" && n > 0 {
			t.Errorf("%d %q requests carried an identity header, want none", n, k)
		}
	}
}

func TestIdentityOverHTTPUnsigned(t *testing.T) {
	hs := httptest.NewServer(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return newIdentityServer() }, nil))
	t.Cleanup(hs.Close)
	s := connect(t, config.MCPServer{Name: "id", URL: hs.URL}, mcptool.NewMemoryPins())
	callersInParallel(t, find(t, s, "id__whoami"), true, "")
}

func TestIdentityOverStdio(t *testing.T) {
	s := connect(t, config.MCPServer{
		Name:           "id",
		Command:        []string{os.Args[0], stdioIdentityArg},
		IdentitySecret: "identity-s3cret",
	}, mcptool.NewMemoryPins())
	tl := find(t, s, "id__whoami")
	callersInParallel(t, tl, false, "")
	// The signature rides in _meta where there are no headers.
	s0 := whoami(t, tl, principal("acme", "alice", "key_a"), "x")
	if sig, _ := s0.Meta["signature"].(string); tool.Verify("identity-s3cret", sig, "acme", "alice", time.Now(), time.Minute) != nil {
		t.Errorf("stdio _meta signature %q does not verify", sig)
	}
	if s0.Tenant != "" || strings.Contains(fmt.Sprint(s0.Meta), "Bearer") {
		t.Errorf("stdio call saw %+v", s0)
	}
}
