package server_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/causeway-ai/causeway/internal/server"
	"github.com/causeway-ai/causeway/internal/server/servertest"
	"github.com/causeway-ai/causeway/internal/sim"
)

// TestTruncationAuto: with truncation "auto" a context the model refuses
// as too long is retried without its oldest turns; with "disabled" (the
// default) the client gets the 400.
func TestTruncationAuto(t *testing.T) {
	e := servertest.Start(t, servertest.Options{})
	_, key := e.CreateKey(t, server.KeyRequest{Name: "trunc", User: "alice"})
	post := func(body string) (int, map[string]any) {
		status, _, b := e.Post(t, key, "/v1/responses", body)
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		return status, m
	}
	// A history of three turns.
	prev := ""
	for _, q := range []string{"first question about bridges", "second question about tunnels", "third question about ferries"} {
		body := `{"model":"sim-openai","input":"` + q + `"`
		if prev != "" {
			body += `,"previous_response_id":"` + prev + `"`
		}
		status, m := post(body + `}`)
		if status != 200 {
			t.Fatalf("turn: %d %v", status, m)
		}
		prev = m["id"].(string)
	}
	tooLong := sim.Fault{Model: "gpt-4.1-mini", Status: 400, Message: "This model's maximum context length is 8192 tokens.", Count: 1}

	e.Sim.AddFault(tooLong)
	status, m := post(`{"model":"sim-openai","input":"and boats?","previous_response_id":"` + prev + `"}`)
	if status != 400 {
		t.Fatalf("truncation disabled: status %d, want the upstream's 400: %v", status, m)
	}
	e.Sim.ClearFaults()

	before := e.Sim.Stats()
	e.Sim.AddFault(tooLong)
	status, m = post(`{"model":"sim-openai","input":"and boats?","truncation":"auto","previous_response_id":"` + prev + `"}`)
	if status != 200 {
		t.Fatalf("truncation auto: status %d, want 200: %v", status, m)
	}
	after := e.Sim.Stats()
	if got := after.Requests["gpt-4.1-mini"] - before.Requests["gpt-4.1-mini"]; got != 2 {
		t.Fatalf("upstream requests = %d, want 2 (refused, then truncated)", got)
	}
	ids, _ := m["causeway"].(map[string]any)["request_ids"].([]any)
	if len(ids) != 2 || !strings.Contains(ids[1].(string), "-") {
		t.Fatalf("causeway.request_ids = %v, want both model calls", ids)
	}
}
