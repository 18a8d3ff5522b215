package sim_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/anthropics/anthropic-sdk-go/v2/option"

	"github.com/causeway-ai/causeway/internal/sim"
)

// The official Anthropic SDK against the simulator proves that the
// simulator speaks the Messages protocol faithfully.

const antModel = "claude-sonnet-4-5"

func newAnthropicSim(t *testing.T, opts sim.Options) (*sim.Sim, *httptest.Server, anthropic.Client) {
	t.Helper()
	s := sim.New(opts)
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	key := opts.APIKey
	if key == "" {
		key = "sk-ant-test"
	}
	return s, srv, anthropic.NewClient(option.WithBaseURL(srv.URL), option.WithAPIKey(key), option.WithMaxRetries(0))
}

var antWeather = anthropic.ToolUnionParam{OfTool: &anthropic.ToolParam{
	Name:        "get_weather",
	Description: anthropic.String("Weather for a city"),
	InputSchema: anthropic.ToolInputSchemaParam{
		Properties: map[string]any{"city": map[string]any{"type": "string"}, "days": map[string]any{"type": "integer"}},
		Required:   []string{"city"},
	},
}}

var antTime = anthropic.ToolUnionParam{OfTool: &anthropic.ToolParam{
	Name:        "get_time",
	InputSchema: anthropic.ToolInputSchemaParam{Properties: map[string]any{"zone": map[string]any{"type": "string"}}},
}}

func antParams(msgs ...anthropic.MessageParam) anthropic.MessageNewParams {
	return anthropic.MessageNewParams{Model: antModel, MaxTokens: 1024, Messages: msgs}
}

func antStream(t *testing.T, c anthropic.Client, p anthropic.MessageNewParams) (anthropic.Message, []anthropic.MessageStreamEventUnion, error) {
	t.Helper()
	st := c.Messages.NewStreaming(t.Context(), p)
	defer st.Close()
	var msg anthropic.Message
	var evs []anthropic.MessageStreamEventUnion
	for st.Next() {
		ev := st.Current()
		evs = append(evs, ev)
		if err := msg.Accumulate(ev); err != nil {
			t.Fatalf("accumulate: %v", err)
		}
	}
	return msg, evs, st.Err()
}

func TestAnthropicWhole(t *testing.T) {
	s, _, c := newAnthropicSim(t, sim.Options{APIKey: "sk-ant-secret"})
	p := antParams(anthropic.NewUserMessage(anthropic.NewTextBlock("Hello there")))
	p.System = []anthropic.TextBlockParam{{Text: "Be brief."}}
	msg, err := c.Messages.New(t.Context(), p)
	if err != nil {
		t.Fatalf("messages: %v", err)
	}
	if msg.Type != "message" || msg.Role != "assistant" || msg.Model != antModel || !strings.HasPrefix(msg.ID, "msg_") {
		t.Errorf("message = %+v", msg)
	}
	if len(msg.Content) != 1 || msg.Content[0].Type != "text" || msg.Content[0].Text == "" {
		t.Fatalf("content = %+v, want one text block", msg.Content)
	}
	if msg.StopReason != anthropic.StopReasonEndTurn {
		t.Errorf("stop_reason = %q", msg.StopReason)
	}
	// System: 4 + 2 words; user: 4 + 2 words.
	if msg.Usage.InputTokens != 12 || msg.Usage.OutputTokens < 20 {
		t.Errorf("usage = %+v, want input 12 and output ≥ 20", msg.Usage)
	}
	st := s.Stats()
	if st.InputTokens[antModel] != 12 || st.OutputTokens[antModel] != msg.Usage.OutputTokens || st.Completed[antModel] != 1 {
		t.Errorf("stats = %+v", st)
	}
	again, err := c.Messages.New(t.Context(), p)
	if err != nil || again.Content[0].Text != msg.Content[0].Text {
		t.Errorf("the answer is not deterministic: %v", err)
	}
}

func TestAnthropicAuthAndVersion(t *testing.T) {
	_, srv, _ := newAnthropicSim(t, sim.Options{APIKey: "sk-ant-secret"})
	bad := anthropic.NewClient(option.WithBaseURL(srv.URL), option.WithAPIKey("wrong"), option.WithMaxRetries(0))
	_, err := bad.Messages.New(t.Context(), antParams(anthropic.NewUserMessage(anthropic.NewTextBlock("hi"))))
	var ae *anthropic.Error
	if !errors.As(err, &ae) || ae.StatusCode != http.StatusUnauthorized {
		t.Fatalf("err = %v, want a 401", err)
	}
	if !strings.Contains(ae.RawJSON(), `"authentication_error"`) {
		t.Errorf("body = %s, want authentication_error", ae.RawJSON())
	}
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1/messages", strings.NewReader(`{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}`))
	req.Header.Set("x-api-key", "sk-ant-secret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var eb struct {
		Type  string `json:"type"`
		Error struct{ Type, Message string }
	}
	_ = json.NewDecoder(resp.Body).Decode(&eb)
	if resp.StatusCode != 400 || eb.Type != "error" || eb.Error.Type != "invalid_request_error" || eb.Error.Message != "anthropic-version: header is required" {
		t.Errorf("without anthropic-version: %d %+v", resp.StatusCode, eb)
	}
}

func TestAnthropicStream(t *testing.T) {
	s, _, c := newAnthropicSim(t, sim.Options{})
	msg, evs, err := antStream(t, c, antParams(anthropic.NewUserMessage(anthropic.NewTextBlock("Stream me a sentence"))))
	if err != nil {
		t.Fatalf("stream: %v", err)
	}
	var types []string
	deltas := 0
	for _, ev := range evs {
		if len(types) == 0 || types[len(types)-1] != ev.Type {
			types = append(types, ev.Type)
		}
		if ev.Type == "content_block_delta" {
			deltas++
		}
	}
	// The SDK swallows the ping; TestAnthropicRawStream sees it.
	want := "message_start content_block_start content_block_delta content_block_stop message_delta message_stop"
	if got := strings.Join(types, " "); got != want {
		t.Errorf("event sequence = %s, want %s", got, want)
	}
	if evs[0].Message.Usage.OutputTokens != 1 || evs[0].Message.Usage.InputTokens != 8 {
		t.Errorf("message_start usage = %+v, want input 8, output 1", evs[0].Message.Usage)
	}
	if msg.Usage.OutputTokens != int64(deltas) || msg.StopReason != anthropic.StopReasonEndTurn {
		t.Errorf("usage %d for %d deltas, stop_reason %q", msg.Usage.OutputTokens, deltas, msg.StopReason)
	}
	whole, err := c.Messages.New(t.Context(), antParams(anthropic.NewUserMessage(anthropic.NewTextBlock("Stream me a sentence"))))
	if err != nil || whole.Content[0].Text != msg.Content[0].Text {
		t.Errorf("streamed %q, whole %q (%v)", msg.Content[0].Text, whole.Content[0].Text, err)
	}
	if st := s.Stats(); st.OutputTokens[antModel] != 2*msg.Usage.OutputTokens || st.InputTokens[antModel] != 16 {
		t.Errorf("stats = %+v", st)
	}
}

func TestAnthropicStopAndMaxTokens(t *testing.T) {
	_, _, c := newAnthropicSim(t, sim.Options{})
	p := antParams(anthropic.NewUserMessage(anthropic.NewTextBlock("Cap me")))
	p.MaxTokens = 3
	msg, err := c.Messages.New(t.Context(), p)
	if err != nil || msg.StopReason != anthropic.StopReasonMaxTokens || msg.Usage.OutputTokens != 3 {
		t.Fatalf("max_tokens: %+v %v", msg, err)
	}
	full, _ := c.Messages.New(t.Context(), antParams(anthropic.NewUserMessage(anthropic.NewTextBlock("Stop me"))))
	words := strings.Fields(full.Content[0].Text)
	stop := " " + words[3]
	p = antParams(anthropic.NewUserMessage(anthropic.NewTextBlock("Stop me")))
	p.StopSequences = []string{stop}
	msg, err = c.Messages.New(t.Context(), p)
	if err != nil || msg.StopReason != anthropic.StopReasonStopSequence || msg.StopSequence != stop {
		t.Fatalf("stop: %q %q %v", msg.StopReason, msg.StopSequence, err)
	}
	if !strings.HasPrefix(full.Content[0].Text, msg.Content[0].Text) || strings.Contains(msg.Content[0].Text, stop) {
		t.Errorf("stopped text %q is not a prefix of %q before %q", msg.Content[0].Text, full.Content[0].Text, stop)
	}
}

func TestAnthropicToolRoundTrip(t *testing.T) {
	_, _, c := newAnthropicSim(t, sim.Options{})
	user := anthropic.NewUserMessage(anthropic.NewTextBlock("Weather and time, in parallel please"))
	p := antParams(user)
	p.Tools = []anthropic.ToolUnionParam{antWeather, antTime}
	msg, evs, err := antStream(t, c, p)
	if err != nil {
		t.Fatalf("stream: %v", err)
	}
	if msg.StopReason != anthropic.StopReasonToolUse || len(msg.Content) != 2 {
		t.Fatalf("stop_reason %q, content %+v: want two parallel tool_use blocks", msg.StopReason, msg.Content)
	}
	frags := 0
	for _, ev := range evs {
		if ev.Type == "content_block_delta" && ev.Delta.Type == "input_json_delta" && ev.Delta.PartialJSON != "" {
			frags++
		}
	}
	if msg.Usage.OutputTokens != int64(frags) {
		t.Errorf("output_tokens %d, want %d fragments", msg.Usage.OutputTokens, frags)
	}
	var results []anthropic.ContentBlockParamUnion
	var asst []anthropic.ContentBlockParamUnion
	for _, b := range msg.Content {
		if b.Type != "tool_use" || !strings.HasPrefix(b.ID, "toolu_") {
			t.Fatalf("block %+v", b)
		}
		var args map[string]any
		if err := json.Unmarshal(b.Input, &args); err != nil {
			t.Fatalf("input %s: %v", b.Input, err)
		}
		asst = append(asst, anthropic.NewToolUseBlock(b.ID, json.RawMessage(b.Input), b.Name))
		results = append(results, anthropic.NewToolResultBlock(b.ID, "sunny "+b.Name, false))
	}
	whole, err := c.Messages.New(t.Context(), p)
	if err != nil || len(whole.Content) != 2 || string(whole.Content[0].Input) != string(msg.Content[0].Input) {
		t.Fatalf("whole tool answer differs: %+v %v", whole.Content, err)
	}
	p2 := antParams(user, anthropic.NewAssistantMessage(asst...), anthropic.NewUserMessage(results...))
	p2.Tools = p.Tools
	ans, err := c.Messages.New(t.Context(), p2)
	if err != nil {
		t.Fatal(err)
	}
	if got := ans.Content[0].Text; got != "The tool returned: sunny get_weather; sunny get_time." || ans.StopReason != anthropic.StopReasonEndTurn {
		t.Errorf("answer %q (%s)", got, ans.StopReason)
	}
	// Forced tool, no parallel calls.
	p.ToolChoice = anthropic.ToolChoiceUnionParam{OfTool: &anthropic.ToolChoiceToolParam{Name: "get_time", DisableParallelToolUse: anthropic.Bool(true)}}
	forced, err := c.Messages.New(t.Context(), p)
	if err != nil || len(forced.Content) != 1 || forced.Content[0].Name != "get_time" {
		t.Errorf("forced: %+v %v", forced.Content, err)
	}
}

func TestAnthropicThinking(t *testing.T) {
	_, _, c := newAnthropicSim(t, sim.Options{})
	p := antParams(anthropic.NewUserMessage(anthropic.NewTextBlock("Think first")))
	p.MaxTokens = 4096
	p.Thinking = anthropic.ThinkingConfigParamOfEnabled(2048)
	msg, evs, err := antStream(t, c, p)
	if err != nil {
		t.Fatal(err)
	}
	if len(msg.Content) != 2 || msg.Content[0].Type != "thinking" || msg.Content[0].Thinking == "" || msg.Content[0].Signature == "" || msg.Content[1].Type != "text" {
		t.Fatalf("content = %+v", msg.Content)
	}
	deltas := 0
	for _, ev := range evs {
		if ev.Type == "content_block_delta" && (ev.Delta.Type == "thinking_delta" || ev.Delta.Type == "text_delta") {
			deltas++
		}
	}
	if msg.Usage.OutputTokens != int64(deltas) {
		t.Errorf("output_tokens %d, want %d (thinking included)", msg.Usage.OutputTokens, deltas)
	}
	whole, err := c.Messages.New(t.Context(), p)
	if err != nil || whole.Content[0].Signature != msg.Content[0].Signature || whole.Content[0].Thinking != msg.Content[0].Thinking {
		t.Errorf("whole thinking differs: %+v %v", whole.Content, err)
	}
	p.Thinking = anthropic.ThinkingConfigParamOfEnabled(100)
	_, err = c.Messages.New(t.Context(), p)
	var ae *anthropic.Error
	if !errors.As(err, &ae) || ae.StatusCode != 400 {
		t.Errorf("budget 100: %v, want 400", err)
	}
}

func TestAnthropicCountTokensAndCache(t *testing.T) {
	s, _, c := newAnthropicSim(t, sim.Options{})
	sys := []anthropic.TextBlockParam{{Text: "You are a careful assistant.", CacheControl: anthropic.NewCacheControlEphemeralParam()}}
	msgs := []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("Count these four words"))}
	n, err := c.Messages.CountTokens(t.Context(), anthropic.MessageCountTokensParams{Model: antModel, Messages: msgs,
		System: anthropic.MessageCountTokensParamsSystemUnion{OfTextBlockArray: sys}})
	if err != nil || n.InputTokens != 17 {
		t.Fatalf("count_tokens = %+v %v, want 17", n, err)
	}
	p := antParams(msgs...)
	p.System = sys
	msg, err := c.Messages.New(t.Context(), p)
	if err != nil {
		t.Fatal(err)
	}
	if u := msg.Usage; u.CacheCreationInputTokens != 9 || u.InputTokens != 8 || u.CacheReadInputTokens != 0 {
		t.Errorf("usage = %+v, want cache write 9 (system), input 8", u)
	}
	if st := s.Stats(); st.InputTokens[antModel] != 8 {
		t.Errorf("stats input = %d, want 8 (input + cache reads)", st.InputTokens[antModel])
	}
}

func TestAnthropicFaults(t *testing.T) {
	s, _, c := newAnthropicSim(t, sim.Options{})
	p := antParams(anthropic.NewUserMessage(anthropic.NewTextBlock("hi")))
	for _, tc := range []struct {
		status int
		typ    string
	}{{429, "rate_limit_error"}, {529, "overloaded_error"}, {500, "api_error"}} {
		s.AddFault(sim.Fault{Model: antModel, Status: tc.status, RetryAfterS: 3, Count: 1})
		_, err := c.Messages.New(t.Context(), p)
		var ae *anthropic.Error
		if !errors.As(err, &ae) || ae.StatusCode != tc.status {
			t.Fatalf("fault %d: err = %v", tc.status, err)
		}
		if !strings.Contains(ae.RawJSON(), `"`+tc.typ+`"`) {
			t.Errorf("fault %d: body %s, want %s", tc.status, ae.RawJSON(), tc.typ)
		}
		if got := ae.Response.Header.Get("Retry-After"); got != "3" {
			t.Errorf("fault %d: retry-after %q", tc.status, got)
		}
	}
	s.AddFault(sim.Fault{Model: antModel, CutAfterChunks: 3, Count: 1})
	if _, _, err := antStream(t, c, p); err == nil {
		t.Error("a cut stream ended without error")
	}
	s.AddFault(sim.Fault{Model: antModel, Malformed: true, Count: 1})
	if _, _, err := antStream(t, c, p); err == nil {
		t.Error("a malformed stream ended without error")
	}
	s.AddFault(sim.Fault{Model: antModel, Status: 529, CutAfterChunks: 4, Count: 1})
	msg, _, err := antStream(t, c, p)
	var ae *anthropic.Error
	if !errors.As(err, &ae) || !strings.Contains(ae.RawJSON(), "overloaded_error") || msg.Content[0].Text == "" {
		t.Errorf("mid-stream error event: %v (content %+v), want overloaded_error after some text", err, msg.Content)
	}
	st := s.Stats()
	if st.Requests[antModel] != 6 || st.Completed[antModel] != 0 {
		t.Errorf("stats = %+v, want 6 requests, none completed", st)
	}
}

func TestAnthropicRawStream(t *testing.T) {
	_, srv, _ := newAnthropicSim(t, sim.Options{})
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1/messages", strings.NewReader(`{"model":"m","max_tokens":2,"stream":true,"messages":[{"role":"user","content":"hi"}]}`))
	req.Header.Set("anthropic-version", "2023-06-01")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var names []string
	for _, line := range strings.Split(string(b), "\n") {
		if name, ok := strings.CutPrefix(line, "event: "); ok {
			names = append(names, name)
		}
	}
	want := "message_start ping content_block_start content_block_delta content_block_delta content_block_stop message_delta message_stop"
	if got := strings.Join(names, " "); got != want {
		t.Errorf("events = %s\nwant %s", got, want)
	}
	for _, frag := range []string{`"usage":{"input_tokens":5,"output_tokens":1,"cache_creation_input_tokens":0,"cache_read_input_tokens":0`,
		`"delta":{"stop_reason":"max_tokens","stop_sequence":null},"usage":{"output_tokens":2,"input_tokens":5`,
		`"content_block":{"type":"text","text":""}`} {
		if !strings.Contains(string(b), frag) {
			t.Errorf("stream lacks %s:\n%s", frag, b)
		}
	}
}

// FuzzAnthropicMessages feeds arbitrary bodies to the Messages handler: it
// must answer 200 or an Anthropic error, and never panic.
func FuzzAnthropicMessages(f *testing.F) {
	f.Add(`{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}`)
	f.Add(`{"model":"m","max_tokens":50,"stream":true,"system":[{"type":"text","text":"s","cache_control":{"type":"ephemeral"}}],"messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":[{"type":"text","text":"r"}]}]}],"tools":[{"name":"f","input_schema":{"type":"object"}}],"tool_choice":{"type":"any"}}`)
	f.Add(`{"model":"m","max_tokens":2000,"thinking":{"type":"enabled","budget_tokens":1024},"stop_sequences":[""],"messages":[{"role":"assistant","content":[{"type":"text"}]}]}`)
	s := sim.New(sim.Options{})
	f.Fuzz(func(t *testing.T, body string) {
		for _, path := range []string{"/v1/messages", "/v1/messages/count_tokens"} {
			req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
			req.Header.Set("anthropic-version", "2023-06-01")
			w := httptest.NewRecorder()
			s.ServeHTTP(w, req)
			if w.Code != 200 && !strings.Contains(w.Body.String(), `"type":"error"`) {
				t.Fatalf("%s: status %d with body %s", path, w.Code, w.Body)
			}
		}
	})
}
