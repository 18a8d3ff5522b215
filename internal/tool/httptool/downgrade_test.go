package httptool

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/causeway-ai/causeway/internal/config"
	"github.com/causeway-ai/causeway/internal/identity"
	"github.com/causeway-ai/causeway/internal/tool"
)

type downgradeRT struct {
	mu   sync.Mutex
	seen map[string]http.Header // by scheme
}

func (f *downgradeRT) RoundTrip(r *http.Request) (*http.Response, error) {
	f.mu.Lock()
	f.seen[r.URL.Scheme] = r.Header.Clone()
	f.mu.Unlock()
	if r.URL.Scheme == "https" {
		// The server (or anyone on its path) sends the caller to plain HTTP.
		return &http.Response{StatusCode: 302, Header: http.Header{"Location": {"http://api.example.com/x"}},
			Body: io.NopCloser(strings.NewReader("")), Request: r}, nil
	}
	return &http.Response{StatusCode: 200, Header: http.Header{}, Body: io.NopCloser(strings.NewReader("ok")), Request: r}, nil
}

// A redirect from https to http on the same host: the configured secret
// headers and the identity signature do not go out in clear text.
func TestRedirectDowngradeDropsSecrets(t *testing.T) {
	tl, err := New(config.HTTPTool{Name: "t", URL: "https://api.example.com/x",
		Headers: map[string]config.Secret{"Authorization": "Bearer tool-token"}, IdentitySecret: "s3cret"})
	if err != nil {
		t.Fatal(err)
	}
	f := &downgradeRT{seen: map[string]http.Header{}}
	tl.client.Transport = f
	_, err = tl.Call(t.Context(), tool.Call{Principal: &identity.Principal{Tenant: "acme", User: "alice"}, Arguments: json.RawMessage(`{}`)})
	if err != nil {
		t.Fatal(err)
	}
	h := f.seen["http"]
	if h == nil {
		t.Fatal("no plain-http request")
	}
	if h.Get("Authorization") != "" || h.Get(tool.HeaderIdentity) != "" {
		t.Errorf("plain-http redirect target got Authorization=%q %s=%q", h.Get("Authorization"), tool.HeaderIdentity, h.Get(tool.HeaderIdentity))
	}
}
