package httptool_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/causeway-ai/causeway/internal/config"
	"github.com/causeway-ai/causeway/internal/tool"
	"github.com/causeway-ai/causeway/internal/tool/httptool"
	"github.com/causeway-ai/causeway/internal/tool/netguard"
)

func newTool(t *testing.T, c config.HTTPTool) *httptool.Tool {
	t.Helper()
	if c.Name == "" {
		c.Name = "probe"
	}
	tl, err := httptool.New(c)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(tl.Close)
	return tl
}

// TestSSRFRefused sends a tool with no allow-list at a listener the test
// controls (and at private and metadata addresses) by every spelling in
// the list: none may reach it. Private destinations are refused before
// any connection is attempted.
func TestSSRFRefused(t *testing.T) {
	var hits atomic.Int64
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		_, _ = w.Write([]byte("secret"))
	}))
	defer target.Close()
	port := target.URL[strings.LastIndex(target.URL, ":")+1:]

	// An allowed host that redirects to the target.
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL+"/stolen", http.StatusFound)
	}))
	defer redirector.Close()
	ru, _ := url.Parse(redirector.URL)

	urls := []string{
		"http://127.0.0.1:" + port + "/",
		"http://localhost:" + port + "/",
		"http://[::1]:" + port + "/",
		"http://2130706433:" + port + "/",
		"http://0x7f000001:" + port + "/",
		"http://017700000001:" + port + "/",
		"http://127.1:" + port + "/",
		"http://0x7f.0.0.1:" + port + "/",
		"http://[::ffff:127.0.0.1]:" + port + "/",
		"http://[::ffff:7f00:1]:" + port + "/",
		"http://[64:ff9b::7f00:1]:" + port + "/",
		"http://[::]:" + port + "/",
		"http://0.0.0.0:" + port + "/",
		"http://169.254.169.254/latest/meta-data/",
		"http://10.0.0.1/",
		"http://192.168.0.1/",
		"http://172.16.0.1/",
		"http://100.64.0.1/",
		"http://[fd00::1]/",
		"http://[fe80::1]/",
		"http://224.0.0.1/",
		"http://255.255.255.255/",
	}
	for _, u := range urls {
		t.Run(u, func(t *testing.T) {
			tl := newTool(t, config.HTTPTool{URL: u})
			_, err := tl.Call(context.Background(), tool.Call{Arguments: []byte(`{}`)})
			if !errors.Is(err, netguard.ErrDenied) {
				t.Errorf("Call(%s) error = %v, want a netguard refusal", u, err)
			}
		})
	}
	t.Run("redirect from an allowed host", func(t *testing.T) {
		tl := newTool(t, config.HTTPTool{URL: redirector.URL + "/go", AllowHosts: []string{ru.Host}})
		_, err := tl.Call(context.Background(), tool.Call{Arguments: []byte(`{}`)})
		if !errors.Is(err, netguard.ErrDenied) {
			t.Errorf("redirect error = %v, want a netguard refusal", err)
		}
	})
	t.Run("placeholder cannot pick the host", func(t *testing.T) {
		tl := newTool(t, config.HTTPTool{URL: "http://{host}/x", Parameters: map[string]any{"type": "object"}})
		_, err := tl.Call(context.Background(), tool.Call{Arguments: []byte(`{"host":"127.0.0.1:` + port + `"}`)})
		if err == nil {
			t.Errorf("placeholder host reached the target")
		}
	})
	if n := hits.Load(); n != 0 {
		t.Fatalf("the target was reached %d times; want 0", n)
	}
}

// TestAllowedHost: an allow-listed host is reached, with the arguments in
// the path (escaped) and query, the configured header, and the body capped.
func TestAllowedHost(t *testing.T) {
	var got atomic.Pointer[http.Request]
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.Store(r.Clone(context.Background()))
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte("sunny and 21 degrees, a long answer"))
	}))
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	tl := newTool(t, config.HTTPTool{Name: "weather", URL: srv.URL + "/weather/{city}", AllowHosts: []string{u.Host},
		Headers: map[string]config.Secret{"X-Api-Key": "hunter2"}, MaxResponseBytes: 20})
	res, err := tl.Call(context.Background(), tool.Call{Arguments: []byte(`{"city":"New York/1","units":"metric"}`)})
	if err != nil {
		t.Fatalf("Call: %v", err)
	}
	r := got.Load()
	if r == nil {
		t.Fatal("the server was not reached")
	}
	if r.URL.EscapedPath() != "/weather/New%20York%2F1" || r.URL.Query().Get("units") != "metric" || r.Header.Get("X-Api-Key") != "hunter2" {
		t.Errorf("request = %s %s header %q", r.Method, r.URL, r.Header.Get("X-Api-Key"))
	}
	if res.Output != "sunny and 21 degrees" || res.IsError || res.Meta["status"] != 200 || res.Meta["truncated"] != true {
		t.Errorf("result = %+v", res)
	}
	if strings.Contains(res.Output, "hunter2") {
		t.Error("the secret header leaked into the output")
	}
}

// TestPostBody sends the arguments not used by the URL as a JSON body.
func TestPostBody(t *testing.T) {
	var body atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b := make([]byte, 1024)
		n, _ := r.Body.Read(b)
		body.Store(r.Method + " " + r.URL.Path + " " + string(b[:n]))
		w.WriteHeader(http.StatusTeapot)
	}))
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	tl := newTool(t, config.HTTPTool{URL: srv.URL + "/items/{id}", Method: "post", AllowHosts: []string{u.Host}})
	res, err := tl.Call(context.Background(), tool.Call{Arguments: []byte(`{"id":7,"note":"hi"}`)})
	if err != nil {
		t.Fatalf("Call: %v", err)
	}
	if got := body.Load(); got != `POST /items/7 {"note":"hi"}` {
		t.Errorf("server saw %q", got)
	}
	if !res.IsError || res.Meta["status"] != http.StatusTeapot {
		t.Errorf("result = %+v, want an error result with status 418", res)
	}
}
