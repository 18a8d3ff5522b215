// Package servertest starts a whole Causeway (server, store and an
// in-process simulator) for tests. It is a test helper: the causeway
// binary must never link it.
package servertest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/causeway-ai/causeway/internal/config"
	"github.com/causeway-ai/causeway/internal/server"
	"github.com/causeway-ai/causeway/internal/sim"
	"github.com/causeway-ai/causeway/internal/store"
	"github.com/causeway-ai/causeway/internal/store/storetest"
)

// AdminKey is the admin key of every test server.
const AdminKey = "test-admin-key"

// Options configure Start.
type Options struct {
	// Store is "sqlite" (default) or "postgres".
	Store string
	// Config is the YAML configuration; "${SIM}" is replaced with the
	// simulator's base URL. Empty means DefaultConfig.
	Config string
	// Sim options for the in-process simulator.
	Sim sim.Options
	// Log, when set, receives the server's JSON logs at debug level.
	Log io.Writer
	// DSN, when set, opens this database rather than a new one: a
	// server started on another Env's DSN is a second replica of it.
	DSN string
}

// DefaultConfig routes sim-openai and sim-embed to the simulator.
const DefaultConfig = `
log: {level: warn, requests: false}
metering: {flush_interval: 20ms, drain_timeout: 10s}
limits: {max_body_bytes: 65536}
providers:
  - name: sim
    type: openai
    base_url: ${SIM}/v1
    timeouts: {first_token: 5s, idle: 5s}
  - name: dead
    type: openai
    base_url: http://127.0.0.1:1/v1
    timeouts: {connect: 1s}
models:
  - alias: sim-openai
    targets: [{provider: sim, model: gpt-4.1-mini, price: {input_per_mtok: 0.40, output_per_mtok: 1.60, cached_input_per_mtok: 0.10}}]
  - alias: sim-other
    targets: [{provider: sim, model: other-model, price: {input_per_mtok: 1, output_per_mtok: 2}}]
  - alias: sim-embed
    targets: [{provider: sim, model: text-embedding-3-small, price: {input_per_mtok: 0.02, output_per_mtok: 0}}]
  - alias: sim-fallback
    targets:
      - {provider: sim, model: primary, price: {input_per_mtok: 1, output_per_mtok: 2}}
      - {provider: sim, model: backup, price: {input_per_mtok: 1, output_per_mtok: 2}}
  - alias: dead
    targets: [{provider: dead, model: nothing, price: {input_per_mtok: 1, output_per_mtok: 1}}]
`

// Env is a running Causeway with its simulator.
type Env struct {
	Sim    *sim.Sim
	SimURL string
	Server *server.Server
	URL    string
	Store  *store.Store
	Config *config.Config
	// DSN is the store's database, for Options.DSN.
	DSN     string
	httpSrv *httptest.Server
}

// Start runs a Causeway for the test and stops it in t.Cleanup.
func Start(t testing.TB, o Options) *Env {
	t.Helper()
	s := sim.New(o.Sim)
	simSrv := httptest.NewServer(s)
	t.Cleanup(simSrv.Close)
	kind := o.Store
	if kind == "" {
		kind = "sqlite"
	}
	dsn := o.DSN
	if dsn == "" {
		dsn = storetest.DSN(t, kind)
	}
	st, err := store.Open(t.Context(), dsn)
	if err != nil {
		t.Fatalf("servertest: open store: %v", err)
	}
	t.Cleanup(func() { _ = st.Close() })
	yml := o.Config
	if yml == "" {
		yml = DefaultConfig
	}
	yml = strings.ReplaceAll(yml, "${SIM}", simSrv.URL)
	cfg, err := config.Parse([]byte(yml), func(k string) (string, bool) {
		if k == "CAUSEWAY_ADMIN_KEY" {
			return AdminKey, true
		}
		return os.LookupEnv(k)
	})
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	var log *slog.Logger
	if o.Log != nil {
		log = slog.New(slog.NewJSONHandler(o.Log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	srv, err := server.New(cfg, st, log)
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	hs := httptest.NewServer(srv.Handler())
	e := &Env{Sim: s, SimURL: simSrv.URL, Server: srv, URL: hs.URL, Store: st, Config: cfg, DSN: dsn, httpSrv: hs}
	t.Cleanup(func() {
		hs.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	return e
}

// CreateKey creates a key through the admin API and returns its id and
// secret.
func (e *Env) CreateKey(t testing.TB, req server.KeyRequest) (id, key string) {
	t.Helper()
	var v server.KeyView
	status := e.Admin(t, http.MethodPost, "/admin/v1/keys", req, &v)
	if status != http.StatusCreated {
		t.Fatalf("create key: status %d, want 201", status)
	}
	if v.Key == "" || v.ID == "" {
		t.Fatalf("create key: got %+v, want id and key", v)
	}
	return v.ID, v.Key
}

// Admin calls the admin API and decodes the JSON answer into out (if not
// nil), returning the status.
func (e *Env) Admin(t testing.TB, method, path string, body, out any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, e.URL+path, rd)
	req.Header.Set("Authorization", "Bearer "+AdminKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: decode %s: %v", method, path, b, err)
		}
	}
	return resp.StatusCode
}

// Usage returns GET /admin/v1/usage?query.
func (e *Env) Usage(t testing.TB, query string) server.UsageView {
	t.Helper()
	var v server.UsageView
	if st := e.Admin(t, http.MethodGet, "/admin/v1/usage?"+query, nil, &v); st != 200 {
		t.Fatalf("usage: status %d", st)
	}
	return v
}

// Post sends a JSON body with the key and returns the status, headers and
// body.
func (e *Env) Post(t testing.TB, key, path, body string) (int, http.Header, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.URL+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

// WaitFor polls cond until it holds or a generous deadline passes. It
// asserts an outcome, never a duration.
func WaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
