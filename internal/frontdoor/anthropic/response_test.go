package anthropic

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/anthropics/anthropic-sdk-go/v2/option"

	"github.com/causeway-ai/causeway/internal/llm"
	wire "github.com/causeway-ai/causeway/internal/schema/anthropic"
)

// richEvents exercise every block kind: thinking with a signature,
// redacted thinking, text, two tool calls, a stop sequence and cached
// usage.
var richEvents = []llm.Event{
	{Type: llm.EventStart, ID: "chatcmpl-1"},
	{Type: llm.EventRole},
	{Type: llm.EventReasoning, Text: "Let me "},
	{Type: llm.EventReasoning, Text: "think."},
	{Type: llm.EventReasoning, Signature: "sig-1"},
	{Type: llm.EventRedactedReasoning, Text: "opaque"},
	{Type: llm.EventReasoning, Text: "More."},
	{Type: llm.EventText, Text: "Calling"},
	{Type: llm.EventText, Text: " tools."},
	{Type: llm.EventToolCall, ToolIndex: 0, ToolCall: llm.ToolCall{ID: "call_a", Name: "get_weather"}},
	{Type: llm.EventToolCall, ToolIndex: 0, ToolCall: llm.ToolCall{Arguments: `{"city":`}},
	{Type: llm.EventToolCall, ToolIndex: 0, ToolCall: llm.ToolCall{Arguments: `"Paris"}`}},
	{Type: llm.EventToolCall, ToolIndex: 1, ToolCall: llm.ToolCall{Name: "get_time", Arguments: `{}`}},
	{Type: llm.EventText, Choice: 1, Text: "ignored: Anthropic has one choice"},
	{Type: llm.EventFinish, FinishReason: llm.FinishStop, StopSequence: "STOP"},
	{Type: llm.EventUsage, Usage: llm.Usage{InputTokens: 100, CachedInputTokens: 60, CacheWriteTokens: 7, OutputTokens: 42}},
}

func encodeAll(t *testing.T, evs []llm.Event) []byte {
	t.Helper()
	enc := &StreamEncoder{ID: "msg_t", Model: "alias"}
	out := enc.Start(nil)
	for i := range evs {
		var err error
		out, err = enc.Encode(out, &evs[i])
		if err != nil {
			t.Fatalf("encode %d: %v", i, err)
		}
	}
	return enc.End(out)
}

// TestStreamThroughSDK feeds the encoder's output to the official SDK's
// stream decoder and accumulator, and compares with the whole message the
// collector builds from the same events.
func TestStreamThroughSDK(t *testing.T) {
	body := encodeAll(t, richEvents)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = w.Write(body)
	}))
	defer srv.Close()
	c := anthropic.NewClient(option.WithBaseURL(srv.URL), option.WithAPIKey("k"), option.WithMaxRetries(0))
	st := c.Messages.NewStreaming(context.Background(), anthropic.MessageNewParams{Model: "alias", MaxTokens: 10,
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("x"))}})
	var msg anthropic.Message
	for st.Next() {
		if err := msg.Accumulate(st.Current()); err != nil {
			t.Fatalf("accumulate: %v\n%s", err, body)
		}
	}
	if err := st.Err(); err != nil {
		t.Fatalf("stream: %v", err)
	}
	col := NewCollector("msg_t", "alias")
	for i := range richEvents {
		col.Add(&richEvents[i])
	}
	whole, err := col.Response()
	if err != nil {
		t.Fatal(err)
	}
	if len(msg.Content) != len(whole.Content) || len(msg.Content) != 6 {
		t.Fatalf("streamed %d blocks, whole %d, want 6:\n%s", len(msg.Content), len(whole.Content), body)
	}
	for i, b := range msg.Content {
		w := whole.Content[i]
		if b.Type != w.Type {
			t.Errorf("block %d: streamed %s, whole %s", i, b.Type, w.Type)
		}
		switch b.Type {
		case "thinking":
			if b.Thinking != *w.Thinking || b.Signature != *w.Signature {
				t.Errorf("block %d: streamed %q/%q, whole %q/%q", i, b.Thinking, b.Signature, *w.Thinking, *w.Signature)
			}
		case "text":
			if b.Text != *w.Text || b.Text != "Calling tools." {
				t.Errorf("block %d: streamed %q, whole %q", i, b.Text, *w.Text)
			}
		case "tool_use":
			var x, y any
			_ = json.Unmarshal(b.Input, &x)
			_ = json.Unmarshal(w.Input, &y)
			bx, _ := json.Marshal(x)
			by, _ := json.Marshal(y)
			if string(bx) != string(by) || b.ID != w.ID || b.Name != w.Name || b.ID == "" {
				t.Errorf("block %d: streamed %s %s %s, whole %s %s %s", i, b.ID, b.Name, b.Input, w.ID, w.Name, w.Input)
			}
		case "redacted_thinking":
			if b.Data != "opaque" || w.Data != "opaque" {
				t.Errorf("block %d: data %q / %q", i, b.Data, w.Data)
			}
		}
	}
	if msg.Content[0].Signature != "sig-1" || msg.Content[2].Signature != "" || msg.Content[2].Thinking != "More." {
		t.Errorf("thinking blocks: %+v / %+v", msg.Content[0], msg.Content[2])
	}
	if msg.StopReason != "stop_sequence" || msg.StopSequence != "STOP" || *whole.StopReason != "stop_sequence" || *whole.StopSequence != "STOP" {
		t.Errorf("stop: streamed %s %q, whole %s %v", msg.StopReason, msg.StopSequence, *whole.StopReason, whole.StopSequence)
	}
	u := msg.Usage
	if u.InputTokens != 40 || u.CacheReadInputTokens != 60 || u.CacheCreationInputTokens != 7 || u.OutputTokens != 42 || whole.Usage != (wire.Usage{InputTokens: 40, CacheReadInputTokens: 60, CacheCreationInputTokens: 7, OutputTokens: 42}) {
		t.Errorf("usage: streamed %+v, whole %+v", u, whole.Usage)
	}
}

// TestTextDeltaFastPath holds the hand-built text delta to what
// json.Marshal makes of the wire type.
func TestTextDeltaFastPath(t *testing.T) {
	for _, s := range []string{"plain", `quote " and \ backslash`, "line\nbreak", "<html>&", "ünï"} {
		enc := &StreamEncoder{ID: "msg_x", Model: "m"}
		enc.Start(nil)
		enc.index = 3
		out, _ := enc.Encode(nil, &llm.Event{Type: llm.EventText, Text: s})
		i := 3
		want, _ := json.Marshal(&wire.StreamEvent{Type: wire.EventContentBlockDelta, Index: &i, Delta: &wire.Delta{Type: "text_delta", Text: s}})
		parts := strings.Split(strings.TrimSpace(string(out)), "\n\n")
		got := parts[len(parts)-1]
		if got != "event: content_block_delta\ndata: "+string(want) {
			t.Errorf("text delta %q:\n got %s\nwant %s", s, got, want)
		}
	}
}

func TestInterleavedToolArgumentsFail(t *testing.T) {
	enc := &StreamEncoder{ID: "msg_x", Model: "m"}
	var err error
	for _, ev := range []llm.Event{
		{Type: llm.EventToolCall, ToolIndex: 0, ToolCall: llm.ToolCall{ID: "a", Name: "f", Arguments: "{"}},
		{Type: llm.EventToolCall, ToolIndex: 1, ToolCall: llm.ToolCall{ID: "b", Name: "g", Arguments: "{}"}},
		{Type: llm.EventToolCall, ToolIndex: 0, ToolCall: llm.ToolCall{Arguments: "}"}},
	} {
		if _, err = enc.Encode(nil, &ev); err != nil {
			break
		}
	}
	if llm.KindOf(err) != llm.KindUpstream {
		t.Errorf("err = %v, want an upstream error", err)
	}
}

func TestStreamErrorEndsWithoutStop(t *testing.T) {
	out := StreamError(nil, &llm.Error{Kind: llm.KindTimeout, Message: "slow"})
	want := "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"timeout_error\",\"message\":\"slow\"}}\n\n"
	if string(out) != want {
		t.Errorf("got %q, want %q", out, want)
	}
}

func TestMessageID(t *testing.T) {
	if got := MessageID("msg_up", "req_1"); got != "msg_up" {
		t.Errorf("got %s", got)
	}
	if got := MessageID("chatcmpl-9", "req_abc"); got != "msg_abc" {
		t.Errorf("got %s", got)
	}
}

func TestErrorStatuses(t *testing.T) {
	for _, tt := range []struct {
		err    error
		status int
		typ    string
	}{
		{&llm.Error{Kind: llm.KindInvalid}, 400, "invalid_request_error"},
		{&llm.Error{Kind: llm.KindUnauthenticated}, 401, "authentication_error"},
		{&llm.Error{Kind: llm.KindPermission}, 403, "permission_error"},
		{&llm.Error{Kind: llm.KindNotFound}, 404, "not_found_error"},
		{&llm.Error{Kind: llm.KindTooLarge}, 413, "request_too_large"},
		{&llm.Error{Kind: llm.KindRateLimited}, 429, "rate_limit_error"},
		{&llm.Error{Kind: llm.KindBudgetExceeded}, 429, "rate_limit_error"},
		{&llm.Error{Kind: llm.KindUpstream, Status: 500}, 502, "api_error"},
		{&llm.Error{Kind: llm.KindUpstream, Status: 529}, 529, "overloaded_error"},
		{&llm.Error{Kind: llm.KindUnavailable}, 529, "overloaded_error"},
		{&llm.Error{Kind: llm.KindTimeout}, 504, "timeout_error"},
		{&llm.Error{Kind: llm.KindInternal}, 500, "api_error"},
	} {
		st, body := errorBody(tt.err)
		if st != tt.status || body.Error.Type != tt.typ || body.Type != "error" {
			t.Errorf("%v: %d %s, want %d %s", llm.AsError(tt.err).Kind, st, body.Error.Type, tt.status, tt.typ)
		}
	}
	rec := httptest.NewRecorder()
	WriteError(rec, &llm.Error{Kind: llm.KindBudgetExceeded, Message: "spent"})
	if rec.Header().Get("X-Should-Retry") != "false" {
		t.Errorf("budget error: x-should-retry %q, want false", rec.Header().Get("X-Should-Retry"))
	}
}
