package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/causeway-ai/causeway/internal/server"
	"github.com/causeway-ai/causeway/internal/server/servertest"
	"github.com/causeway-ai/causeway/internal/tool"
)

// whoSaw is what a tool server saw of a call's caller.
type whoSaw struct {
	Tag    string         `json:"tag"`
	Meta   map[string]any `json:"meta,omitempty"`
	Tenant string         `json:"tenant"`
	User   string         `json:"user"`
	Sig    string         `json:"sig"`
	Auth   string         `json:"auth"`
}

// TestToolsRunAsTheCaller: responses of two keys (two tenants and users)
// run in parallel, each calling an MCP tool and an HTTP tool; every tool
// call carries its own caller — tenant, user and key id in the MCP
// request's _meta, tenant and user in headers signed with the configured
// identity_secret — and never the caller's API key.
func TestToolsRunAsTheCaller(t *testing.T) {
	const secret = "id-s3cret-from-env"
	t.Setenv("CAUSEWAY_TEST_IDENTITY_SECRET", secret)

	mcpSrv := mcp.NewServer(&mcp.Implementation{Name: "who", Version: "1"}, nil)
	type in struct {
		Tag string `json:"tag"`
	}
	mcp.AddTool(mcpSrv, &mcp.Tool{Name: "ami", Description: "Says who called."},
		func(_ context.Context, req *mcp.CallToolRequest, _ in) (*mcp.CallToolResult, any, error) {
			s := whoSaw{}
			s.Meta, _ = req.Params.Meta[tool.MetaKey].(map[string]any)
			if req.Extra != nil {
				h := req.Extra.Header
				s.Tenant, s.User, s.Sig, s.Auth = h.Get(tool.HeaderTenant), h.Get(tool.HeaderUser), h.Get(tool.HeaderIdentity), h.Get("Authorization")
			}
			b, _ := json.Marshal(s)
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: string(b)}}}, nil, nil
		})
	mhs := httptest.NewServer(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return mcpSrv }, nil))
	t.Cleanup(mhs.Close)

	hhs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := r.Header
		_ = json.NewEncoder(w).Encode(whoSaw{Tenant: h.Get(tool.HeaderTenant), User: h.Get(tool.HeaderUser),
			Sig: h.Get(tool.HeaderIdentity), Auth: h.Get("Authorization")})
	}))
	t.Cleanup(hhs.Close)
	hu, _ := url.Parse(hhs.URL)

	yml := servertest.DefaultConfig + fmt.Sprintf(`
tools:
  http:
    - name: whoami
      description: Says who called.
      url: %s/who
      allow_hosts: [%q]
      identity_secret: ${CAUSEWAY_TEST_IDENTITY_SECRET}
  mcp:
    - name: who
      url: %s
      identity_secret: ${CAUSEWAY_TEST_IDENTITY_SECRET}
`, hhs.URL, hu.Host, mhs.URL)
	e := servertest.Start(t, servertest.Options{Config: yml})

	type caller struct {
		tenant, user, keyID, key string
	}
	var callers []caller
	for _, c := range []struct{ tenant, user string }{{"default", "alice"}, {"globex", "bob"}} {
		var v server.KeyView
		status := e.Admin(t, http.MethodPost, "/admin/v1/keys?tenant="+c.tenant,
			server.KeyRequest{Name: c.user, User: c.user, Tools: []string{"whoami", "who__ami"}}, &v)
		if status != http.StatusCreated {
			t.Fatalf("create key in %s: %d", c.tenant, status)
		}
		if v.Tenant != c.tenant {
			t.Fatalf("key tenant %q, want %q", v.Tenant, c.tenant)
		}
		callers = append(callers, caller{tenant: c.tenant, user: c.user, keyID: v.ID, key: v.Key})
	}

	var wg sync.WaitGroup
	for _, c := range callers {
		for _, tl := range []string{"whoami", "who__ami"} {
			for range 4 {
				wg.Go(func() {
					body := `{"model":"sim-openai","input":"Who am I?","tools":[{"type":"causeway","name":"` + tl + `"}]}`
					status, _, b := e.Post(t, c.key, "/v1/responses", body)
					if status != http.StatusOK {
						t.Errorf("%s calling %s: %d %s", c.user, tl, status, b)
						return
					}
					var resp struct {
						Output []struct{ Type, Output string }
					}
					if err := json.Unmarshal(b, &resp); err != nil {
						t.Errorf("%s: %v", b, err)
						return
					}
					var outs []string
					for _, it := range resp.Output {
						if it.Type == "function_call_output" {
							outs = append(outs, it.Output)
						}
					}
					if len(outs) != 1 {
						t.Errorf("%s calling %s: %d tool outputs, want 1: %s", c.user, tl, len(outs), b)
						return
					}
					var s whoSaw
					if err := json.Unmarshal([]byte(outs[0]), &s); err != nil {
						t.Errorf("tool output %q: %v", outs[0], err)
						return
					}
					if s.Tenant != c.tenant || s.User != c.user {
						t.Errorf("%s (%s) calling %s: the tool saw tenant %q user %q", c.user, c.tenant, tl, s.Tenant, s.User)
					}
					if err := tool.Verify(secret, s.Sig, c.tenant, c.user, time.Now(), time.Minute); err != nil {
						t.Errorf("%s calling %s: signature %q: %v", c.user, tl, s.Sig, err)
					}
					if s.Auth != "" || strings.Contains(outs[0], c.key) {
						t.Errorf("%s calling %s: the tool saw the caller's key or an Authorization %q", c.user, tl, s.Auth)
					}
					if tl == "who__ami" {
						if s.Meta["tenant"] != c.tenant || s.Meta["user"] != c.user || s.Meta["key_id"] != c.keyID {
							t.Errorf("%s calling %s: _meta %v, want tenant %s user %s key_id %s", c.user, tl, s.Meta, c.tenant, c.user, c.keyID)
						}
					}
				})
			}
		}
	}
	wg.Wait()
}
