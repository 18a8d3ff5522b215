package mcptool

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/causeway-ai/causeway/internal/tool"
)

type downgradeRT struct {
	mu   sync.Mutex
	seen map[string]http.Header
}

func (f *downgradeRT) RoundTrip(r *http.Request) (*http.Response, error) {
	f.mu.Lock()
	f.seen[r.URL.Scheme] = r.Header.Clone()
	f.mu.Unlock()
	if r.URL.Scheme == "https" {
		return &http.Response{StatusCode: 307, Header: http.Header{"Location": {"http://mcp.example.com/mcp"}},
			Body: io.NopCloser(strings.NewReader("")), Request: r}, nil
	}
	return &http.Response{StatusCode: 200, Header: http.Header{}, Body: io.NopCloser(strings.NewReader("{}")), Request: r}, nil
}

// A redirect from https to http on the same host gets neither the
// configured credentials nor the signed identity.
func TestRedirectDowngradeDropsCredentials(t *testing.T) {
	f := &downgradeRT{seen: map[string]http.Header{}}
	c := &http.Client{Transport: headerTransport{base: f, host: "mcp.example.com", scheme: "https",
		header: http.Header{"Authorization": {"Bearer mcp-token"}}, secret: "s3cret"}}
	ctx := context.WithValue(context.Background(), identityKey{}, tool.Identity{Tenant: "acme", User: "alice"})
	req, _ := http.NewRequestWithContext(ctx, "POST", "https://mcp.example.com/mcp", strings.NewReader(`{}`))
	req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(`{}`)), nil }
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	h := f.seen["http"]
	if h.Get("Authorization") != "" || h.Get(tool.HeaderIdentity) != "" {
		t.Errorf("plain-http target got Authorization=%q identity=%q", h.Get("Authorization"), h.Get(tool.HeaderIdentity))
	}
}
