package server_test

import (
	"context"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/responses"

	"github.com/causeway-ai/causeway/internal/server"
	"github.com/causeway-ai/causeway/internal/server/servertest"
)

// TestReloadRuntimeSettings: a configuration reload changes the runtime's
// settings read at each use — memory extraction turned on, the
// compaction model, approvals required — without a restart.
func TestReloadRuntimeSettings(t *testing.T) {
	tt := startToolTarget(t)
	before := toolsConfig(tt, 0, "")
	e := servertest.Start(t, servertest.Options{Config: before})
	_, key := e.CreateKey(t, server.KeyRequest{Name: "alice", User: "alice", Tools: []string{"weather"}})
	c := newClient(e.URL, key)
	ctx := context.Background()
	reload := func(yml string) {
		t.Helper()
		cfg, err := configParse(strings.ReplaceAll(yml, "${SIM}", e.SimURL))
		if err != nil {
			t.Fatal(err)
		}
		if err := e.Server.Reload(cfg); err != nil {
			t.Fatalf("reload: %v", err)
		}
	}
	respond := func(opts ...option.RequestOption) *responses.Response {
		t.Helper()
		r, err := c.Responses.New(ctx, responses.ResponseNewParams{Model: "sim-openai", Input: textInput("What is the weather?")}, opts...)
		if err != nil {
			t.Fatalf("response: %v", err)
		}
		e.Server.WaitMemoryExtractions()
		return r
	}
	extractions := func() int64 { return e.Sim.Stats().Completed["other-model"] }
	mem := option.WithJSONSet("memory", map[string]any{"k": 3})

	// Before: no extraction, the tool runs without approval.
	r := respond(mem, serverTools("weather"))
	if n := extractions(); n != 0 {
		t.Fatalf("extraction calls before the reload = %d, want 0", n)
	}
	if itemTypes(r.Output)[1] != "function_call_output" {
		t.Fatalf("output before the reload = %v, want the tool run", itemTypes(r.Output))
	}

	// After: extraction on, the tool needs approval.
	reload(before + "  require_approval: [weather]\nmemory: {extraction_model: sim-other}\n")
	r = respond(mem, serverTools("weather"))
	if n := extractions(); n != 1 {
		t.Errorf("extraction calls after the reload = %d, want 1", n)
	}
	if got := itemTypes(r.Output); len(got) != 2 || got[1] != "mcp_approval_request" {
		t.Errorf("output after the reload = %v, want an approval request", got)
	}

	// And off again.
	reload(before)
	respond(mem)
	if n := extractions(); n != 1 {
		t.Errorf("extraction calls after turning it off = %d, want still 1", n)
	}
}
