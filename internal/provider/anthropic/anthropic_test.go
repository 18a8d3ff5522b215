package anthropic

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/causeway-ai/causeway/internal/llm"
)

const okBody = `{"id":"msg_1","type":"message","role":"assistant","model":"claude-x","content":[{"type":"text","text":"hi"}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":3,"output_tokens":1,"cache_read_input_tokens":2}}`

// TestHeadersAndPassThrough checks the headers sent upstream and that a
// door's extra fields and headers reach Anthropic only from its own family.
func TestHeadersAndPassThrough(t *testing.T) {
	var got http.Header
	var body map[string]json.RawMessage
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/messages" {
			t.Errorf("path = %s", r.URL.Path)
		}
		got = r.Header.Clone()
		b, _ := io.ReadAll(r.Body)
		body = nil
		_ = json.Unmarshal(b, &body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, okBody)
	}))
	defer srv.Close()
	p := New(Config{Name: "a", BaseURL: srv.URL + "/v1/", APIKey: "sk-ant-k", Headers: map[string]string{"X-Team": "t"}})
	for _, tc := range []struct {
		family    string
		wantExtra bool
	}{{"anthropic", true}, {"openai", false}} {
		req := &llm.Request{UpstreamModel: "claude-x", Messages: []llm.Message{llm.TextMessage(llm.RoleUser, "hi")},
			Extra: map[string]json.RawMessage{"service_tier": json.RawMessage(`"auto"`)}, ExtraFamily: tc.family,
			ExtraHeaders: map[string]string{"anthropic-beta": "b1", "x-api-key": "client-key", "anthropic-version": "2099-01-01"}}
		st, err := p.Chat(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		var evs []llm.Event
		for {
			ev, err := st.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			evs = append(evs, ev)
		}
		if got.Get("X-Api-Key") != "sk-ant-k" || got.Get("Anthropic-Version") != "2023-06-01" || got.Get("X-Team") != "t" || got.Get("Authorization") != "" {
			t.Errorf("headers = %v", got)
		}
		if (got.Get("Anthropic-Beta") == "b1") != tc.wantExtra || (body["service_tier"] != nil) != tc.wantExtra {
			t.Errorf("family %s: beta %q, service_tier %s", tc.family, got.Get("Anthropic-Beta"), body["service_tier"])
		}
		u := evs[len(evs)-1]
		if u.Type != llm.EventUsage || u.Usage.InputTokens != 5 || u.Usage.CachedInputTokens != 2 || u.Usage.OutputTokens != 1 {
			t.Errorf("last event = %+v, want usage 5 (3 + 2 cached) in, 1 out", u)
		}
	}
	if _, err := p.Embed(context.Background(), &llm.EmbeddingRequest{}); llm.KindOf(err) != llm.KindInvalid {
		t.Errorf("embed: %v, want KindInvalid", err)
	}
}

func TestConnectFailureIsUnavailable(t *testing.T) {
	p := New(Config{Name: "a", BaseURL: "http://127.0.0.1:1"})
	_, err := p.Chat(context.Background(), &llm.Request{UpstreamModel: "m", Messages: []llm.Message{llm.TextMessage(llm.RoleUser, "x")}})
	if llm.KindOf(err) != llm.KindUnavailable {
		t.Errorf("err = %v (kind %v), want unavailable", err, llm.KindOf(err))
	}
}
