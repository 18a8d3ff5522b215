package server_test

import (
	"net/http"
	"strings"
	"testing"

	anthdoor "github.com/causeway-ai/causeway/internal/frontdoor/anthropic"
	memdoor "github.com/causeway-ai/causeway/internal/frontdoor/memories"
	oaidoor "github.com/causeway-ai/causeway/internal/frontdoor/openai"
	respdoor "github.com/causeway-ai/causeway/internal/frontdoor/responses"
	"github.com/causeway-ai/causeway/internal/server"
	"github.com/causeway-ai/causeway/internal/server/servertest"
)

// TestOddBodies: every route that takes a body answers JSON that is not
// an object (null, an array, a number, a string) or is not JSON at all
// with a client error, never a 500 (a panic caught by the middleware).
func TestOddBodies(t *testing.T) {
	e := servertest.Start(t, servertest.Options{})
	_, key := e.CreateKey(t, server.KeyRequest{Name: "k", User: "u"})
	var routes []string
	for _, rs := range [][]string{respdoor.Routes(), respdoor.ExportRoutes(), respdoor.CostRoutes(), respdoor.CompactRoutes(),
		memdoor.Routes(), oaidoor.Routes(), anthdoor.Routes()} {
		routes = append(routes, rs...)
	}
	routes = append(routes, "POST /admin/v1/keys", "POST /admin/v1/erase", "POST /admin/v1/tools/{name}/approve")
	n := 0
	for _, route := range routes {
		method, path, _ := strings.Cut(route, " ")
		if method != http.MethodPost && method != http.MethodPatch {
			continue
		}
		for _, p := range []string{"{id}", "{item_id}", "{name}"} {
			path = strings.ReplaceAll(path, p, "x_1")
		}
		auth := key
		if strings.HasPrefix(path, "/admin/") {
			auth = servertest.AdminKey
		}
		for _, body := range []string{"null", "[]", "1", `"x"`, "{", "nonsense", `{"model":null,"input":null,"items":null,"text":null}`} {
			req, _ := http.NewRequest(method, e.URL+path, strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+auth)
			req.Header.Set("x-api-key", auth)
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			n++
			if resp.StatusCode >= 500 {
				t.Errorf("%s %s with body %s: %d, want a client error", method, path, body, resp.StatusCode)
			}
		}
	}
	if n < 100 {
		t.Fatalf("sent %d requests; the route lists look empty", n)
	}
}
