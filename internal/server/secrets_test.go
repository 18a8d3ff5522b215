package server_test

import (
	"bytes"
	"strings"
	"sync"
	"testing"

	"github.com/causeway-ai/causeway/internal/server"
	"github.com/causeway-ai/causeway/internal/server/servertest"
	"github.com/causeway-ai/causeway/internal/sim"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestNoSecretInLogs drives successes and every kind of failure with debug
// logging on, and checks that no key — virtual, admin or upstream — is in
// the logs.
func TestNoSecretInLogs(t *testing.T) {
	const upstreamKey = "sk-upstream-secret-0123456789"
	yml := strings.Replace(servertest.DefaultConfig, "    base_url: ${SIM}/v1\n", "    base_url: ${SIM}/v1\n    api_key: "+upstreamKey+"\n", 1)
	yml = strings.Replace(yml, "requests: false", "requests: true", 1)
	var logs syncBuffer
	e := servertest.Start(t, servertest.Options{Config: yml, Log: &logs, Sim: sim.Options{APIKey: upstreamKey}})
	_, key := e.CreateKey(t, server.KeyRequest{Name: "secret"})
	e.Post(t, key, "/v1/chat/completions", hello)
	e.Post(t, key, "/v1/chat/completions", `{"model":"sim-openai","stream":true,"messages":[{"role":"user","content":"x"}]}`)
	e.Post(t, key+"x", "/v1/chat/completions", hello)                                                     // bad key
	e.Post(t, servertest.AdminKey, "/v1/chat/completions", hello)                                         // admin key on a model route
	e.Post(t, key, "/v1/chat/completions", `{"model":"dead","messages":[{"role":"user","content":"x"}]}`) // unreachable
	e.Sim.AddFault(sim.Fault{Model: "gpt-4.1-mini", Status: 500})
	e.Post(t, key, "/v1/chat/completions", hello) // upstream failures, logged
	e.Sim.ClearFaults()
	e.Server.Meter().Flush(t.Context())
	out := logs.String()
	if !strings.Contains(out, `"request_id"`) || !strings.Contains(out, "upstream attempt failed") {
		t.Fatalf("the request and failure logs were not captured: %.300s", out)
	}
	for name, secret := range map[string]string{"virtual key": key, "admin key": servertest.AdminKey, "upstream key": upstreamKey} {
		if strings.Contains(out, secret) {
			t.Errorf("the %s appears in the logs", name)
		}
	}
}
