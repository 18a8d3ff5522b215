package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/anthropics/anthropic-sdk-go/v2/option"

	antdoor "github.com/causeway-ai/causeway/internal/frontdoor/anthropic"
	"github.com/causeway-ai/causeway/internal/server"
	"github.com/causeway-ai/causeway/internal/server/servertest"
	"github.com/causeway-ai/causeway/internal/sim"
)

// The Anthropic door is driven by the official Anthropic SDK through the
// gateway to an OpenAI-protocol alias (sim-openai → gpt-4.1-mini on the
// simulator): the door's codec meets the OpenAI provider's only in llm.

const antUpstream = "gpt-4.1-mini"

func newAnthropic(e *servertest.Env, key string) anthropic.Client {
	return anthropic.NewClient(option.WithBaseURL(e.URL), option.WithAPIKey(key), option.WithMaxRetries(0))
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

// simDelta runs fn and returns the input and output tokens the simulator
// reported for the requests fn made.
func simDelta(e *servertest.Env, fn func()) (in, out int64) {
	before := e.Sim.Stats()
	fn()
	after := e.Sim.Stats()
	return after.InputTokens[antUpstream] - before.InputTokens[antUpstream], after.OutputTokens[antUpstream] - before.OutputTokens[antUpstream]
}

func textOf(m *anthropic.Message) string {
	var b strings.Builder
	for _, c := range m.Content {
		if c.Type == "text" {
			b.WriteString(c.Text)
		}
	}
	return b.String()
}

func TestAnthropicDoorSDK(t *testing.T) {
	e := servertest.Start(t, servertest.Options{})
	_, key := e.CreateKey(t, server.KeyRequest{Name: "anthropic"})
	c := newAnthropic(e, key)
	ctx := context.Background()
	var wantIn, wantOut int64
	var requests int64

	t.Run("whole with system prompt", func(t *testing.T) {
		var msg *anthropic.Message
		in, out := simDelta(e, func() {
			var err error
			msg, err = c.Messages.New(ctx, anthropic.MessageNewParams{
				Model: "sim-openai", MaxTokens: 256,
				System:   []anthropic.TextBlockParam{{Text: "Be brief."}},
				Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("Hello there"))},
			})
			if err != nil {
				t.Fatalf("messages: %v", err)
			}
		})
		requests++
		wantIn, wantOut = wantIn+in, wantOut+out
		if !strings.HasPrefix(msg.ID, "msg_") || msg.Model != "sim-openai" || msg.Type != "message" {
			t.Errorf("id %q model %q type %q, want msg_…, sim-openai, message", msg.ID, msg.Model, msg.Type)
		}
		if len(msg.Content) != 1 || msg.Content[0].Type != "text" || msg.Content[0].Text == "" {
			t.Fatalf("content = %+v, want one text block", msg.Content)
		}
		if msg.StopReason != anthropic.StopReasonEndTurn {
			t.Errorf("stop_reason = %q, want end_turn", msg.StopReason)
		}
		if msg.Usage.InputTokens != in || msg.Usage.OutputTokens != out || in == 0 {
			t.Errorf("usage = %d in, %d out; the simulator reported %d, %d", msg.Usage.InputTokens, msg.Usage.OutputTokens, in, out)
		}
	})

	t.Run("max tokens", func(t *testing.T) {
		in, out := simDelta(e, func() {
			msg, err := c.Messages.New(ctx, anthropic.MessageNewParams{
				Model: "sim-openai", MaxTokens: 3,
				Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("Tell me a long story"))},
			})
			if err != nil {
				t.Fatalf("messages: %v", err)
			}
			if msg.StopReason != anthropic.StopReasonMaxTokens || msg.Usage.OutputTokens != 3 {
				t.Errorf("stop_reason %q, output_tokens %d; want max_tokens, 3", msg.StopReason, msg.Usage.OutputTokens)
			}
		})
		requests++
		wantIn, wantOut = wantIn+in, wantOut+out
	})

	t.Run("stream and accumulate", func(t *testing.T) {
		var msg anthropic.Message
		var deltas strings.Builder
		var types []string
		in, out := simDelta(e, func() {
			st := c.Messages.NewStreaming(ctx, anthropic.MessageNewParams{
				Model: "sim-openai", MaxTokens: 256,
				Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("Stream to me"))},
			})
			for st.Next() {
				ev := st.Current()
				types = append(types, ev.Type)
				if err := msg.Accumulate(ev); err != nil {
					t.Fatalf("accumulate: %v", err)
				}
				if ev.Type == "content_block_delta" && ev.Delta.Type == "text_delta" {
					deltas.WriteString(ev.Delta.Text)
				}
			}
			if err := st.Err(); err != nil {
				t.Fatalf("stream: %v", err)
			}
		})
		requests++
		wantIn, wantOut = wantIn+in, wantOut+out
		if types[0] != "message_start" || types[len(types)-1] != "message_stop" || types[len(types)-2] != "message_delta" {
			t.Errorf("event types = %v, want message_start … message_delta, message_stop", types)
		}
		if got := textOf(&msg); got != deltas.String() || got == "" {
			t.Errorf("accumulated text %q, deltas %q", got, deltas.String())
		}
		if msg.Usage.InputTokens != in || msg.Usage.OutputTokens != out {
			t.Errorf("accumulated usage = %d in, %d out; the simulator reported %d, %d", msg.Usage.InputTokens, msg.Usage.OutputTokens, in, out)
		}
		if msg.StopReason != anthropic.StopReasonEndTurn || !strings.HasPrefix(msg.ID, "msg_") {
			t.Errorf("stop_reason %q id %q", msg.StopReason, msg.ID)
		}
	})

	t.Run("tool round trip", func(t *testing.T) {
		user := anthropic.NewUserMessage(anthropic.NewTextBlock("What is the weather in Paris?"))
		first, err := c.Messages.New(ctx, anthropic.MessageNewParams{
			Model: "sim-openai", MaxTokens: 256, Tools: []anthropic.ToolUnionParam{antWeather},
			Messages: []anthropic.MessageParam{user},
		})
		if err != nil {
			t.Fatalf("messages: %v", err)
		}
		requests++
		if first.StopReason != anthropic.StopReasonToolUse {
			t.Fatalf("stop_reason = %q, want tool_use", first.StopReason)
		}
		var use *anthropic.ContentBlockUnion
		for i := range first.Content {
			if first.Content[i].Type == "tool_use" {
				use = &first.Content[i]
			}
		}
		if use == nil || use.Name != "get_weather" || use.ID == "" {
			t.Fatalf("content = %+v, want a get_weather tool_use", first.Content)
		}
		var args map[string]any
		if err := json.Unmarshal(use.Input, &args); err != nil || args["city"] == nil {
			t.Fatalf("input %s: %v, want an object with city", use.Input, err)
		}
		second, err := c.Messages.New(ctx, anthropic.MessageNewParams{
			Model: "sim-openai", MaxTokens: 256, Tools: []anthropic.ToolUnionParam{antWeather},
			Messages: []anthropic.MessageParam{user, first.ToParam(),
				anthropic.NewUserMessage(anthropic.NewToolResultBlock(use.ID, "21C and sunny", false))},
		})
		if err != nil {
			t.Fatalf("messages after tool result: %v", err)
		}
		requests++
		if got := textOf(second); !strings.Contains(got, "21C and sunny") || second.StopReason != anthropic.StopReasonEndTurn {
			t.Errorf("answer %q (%s), want it to contain the tool result", got, second.StopReason)
		}
	})

	t.Run("streamed parallel tool use", func(t *testing.T) {
		var msg anthropic.Message
		jsonDeltas := 0
		st := c.Messages.NewStreaming(ctx, anthropic.MessageNewParams{
			Model: "sim-openai", MaxTokens: 256, Tools: []anthropic.ToolUnionParam{antWeather, antTime},
			Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("Weather and time, in parallel please"))},
		})
		for st.Next() {
			ev := st.Current()
			if ev.Type == "content_block_delta" && ev.Delta.Type == "input_json_delta" {
				jsonDeltas++
			}
			if err := msg.Accumulate(ev); err != nil {
				t.Fatalf("accumulate: %v", err)
			}
		}
		if err := st.Err(); err != nil {
			t.Fatalf("stream: %v", err)
		}
		requests++
		if msg.StopReason != anthropic.StopReasonToolUse || len(msg.Content) != 2 {
			t.Fatalf("stop_reason %q, content %+v; want tool_use with two blocks", msg.StopReason, msg.Content)
		}
		if jsonDeltas < 3 {
			t.Errorf("%d input_json_delta events, want the arguments streamed in fragments", jsonDeltas)
		}
		var results []anthropic.ContentBlockParamUnion
		for i, b := range msg.Content {
			if b.Type != "tool_use" || !json.Valid(b.Input) {
				t.Fatalf("block %d = %+v, want a tool_use with JSON input", i, b)
			}
			results = append(results, anthropic.NewToolResultBlock(b.ID, []string{"rainy", "noon"}[i], false))
		}
		if msg.Content[0].Name != "get_weather" || msg.Content[1].Name != "get_time" {
			t.Errorf("tools called: %s, %s", msg.Content[0].Name, msg.Content[1].Name)
		}
		next, err := c.Messages.New(ctx, anthropic.MessageNewParams{
			Model: "sim-openai", MaxTokens: 256, Tools: []anthropic.ToolUnionParam{antWeather, antTime},
			Messages: []anthropic.MessageParam{
				anthropic.NewUserMessage(anthropic.NewTextBlock("Weather and time, in parallel please")),
				msg.ToParam(), anthropic.NewUserMessage(results...),
			},
		})
		if err != nil {
			t.Fatalf("messages after tool results: %v", err)
		}
		requests++
		if got := textOf(next); !strings.Contains(got, "rainy") || !strings.Contains(got, "noon") {
			t.Errorf("answer %q, want both tool results", got)
		}
	})

	t.Run("multi-turn and image", func(t *testing.T) {
		const png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
		first, err := c.Messages.New(ctx, anthropic.MessageNewParams{
			Model: "sim-openai", MaxTokens: 64,
			Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("Describe this"), anthropic.NewImageBlockBase64("image/png", png))},
		})
		if err != nil {
			t.Fatalf("image: %v", err)
		}
		second, err := c.Messages.New(ctx, anthropic.MessageNewParams{
			Model: "sim-openai", MaxTokens: 64,
			Messages: []anthropic.MessageParam{
				anthropic.NewUserMessage(anthropic.NewTextBlock("Describe this"), anthropic.NewImageBlockBase64("image/png", png)),
				first.ToParam(),
				anthropic.NewUserMessage(anthropic.NewTextBlock("And again, differently")),
			},
		})
		if err != nil {
			t.Fatalf("second turn: %v", err)
		}
		requests += 2
		if textOf(second) == "" || textOf(second) == textOf(first) {
			t.Errorf("second turn %q, first %q: want a different answer", textOf(second), textOf(first))
		}
	})

	t.Run("count tokens", func(t *testing.T) {
		params := anthropic.MessageCountTokensParams{
			Model:    "sim-openai",
			Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("How many tokens is this sentence?"))},
		}
		a, err := c.Messages.CountTokens(ctx, params)
		if err != nil {
			t.Fatalf("count_tokens: %v", err)
		}
		b, err := c.Messages.CountTokens(ctx, params)
		if err != nil {
			t.Fatal(err)
		}
		if a.InputTokens <= 0 || a.InputTokens != b.InputTokens {
			t.Errorf("counts %d and %d, want positive and stable", a.InputTokens, b.InputTokens)
		}
		params.Messages = append(params.Messages, anthropic.NewAssistantMessage(anthropic.NewTextBlock("Seven.")),
			anthropic.NewUserMessage(anthropic.NewTextBlock(strings.Repeat("more words here ", 50))))
		longer, err := c.Messages.CountTokens(ctx, params)
		if err != nil {
			t.Fatal(err)
		}
		if longer.InputTokens <= a.InputTokens+100 {
			t.Errorf("longer conversation counts %d, shorter %d", longer.InputTokens, a.InputTokens)
		}
		if _, err := c.Messages.CountTokens(ctx, anthropic.MessageCountTokensParams{Model: "nope", Messages: params.Messages}); apiStatus(err) != 404 {
			t.Errorf("count_tokens for an unknown model: %v, want 404", err)
		}
	})

	t.Run("errors", func(t *testing.T) {
		_, err := c.Messages.New(ctx, anthropic.MessageNewParams{Model: "no-such-model", MaxTokens: 10,
			Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("x"))}})
		checkAPIError(t, err, 404, "not_found_error")

		bad := anthropic.NewClient(option.WithBaseURL(e.URL), option.WithAPIKey("cw-not-a-key"), option.WithMaxRetries(0))
		_, err = bad.Messages.New(ctx, anthropic.MessageNewParams{Model: "sim-openai", MaxTokens: 10,
			Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("x"))}})
		checkAPIError(t, err, 401, "authentication_error")
	})
	if wantIn == 0 || wantOut == 0 || requests == 0 {
		t.Error("no usage measured")
	}
}

// TestAnthropicDoorUpstreamErrors checks upstream failures reach Anthropic
// clients with the statuses and types they retry sensibly.
func TestAnthropicDoorUpstreamErrors(t *testing.T) {
	e := servertest.Start(t, servertest.Options{})
	_, key := e.CreateKey(t, server.KeyRequest{Name: "k"})
	c := newAnthropic(e, key)
	ctx := context.Background()
	params := anthropic.MessageNewParams{Model: "sim-openai", MaxTokens: 10,
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("x"))}}

	t.Run("503 is overloaded", func(t *testing.T) {
		addFault(t, e, sim.Fault{Model: antUpstream, Status: 503, Probability: 1})
		_, err := c.Messages.New(ctx, params)
		checkAPIError(t, err, 529, "overloaded_error")
	})
	t.Run("429 keeps its Retry-After", func(t *testing.T) {
		// Beyond the alias's max_retry_after: the gateway passes it on.
		addFault(t, e, sim.Fault{Model: antUpstream, Status: 429, RetryAfterS: 30, Probability: 1})
		_, err := c.Messages.New(ctx, params)
		if ae := checkAPIError(t, err, 429, "rate_limit_error"); ae != nil && ae.Response.Header.Get("Retry-After") != "30" {
			t.Errorf("Retry-After = %q, want 30", ae.Response.Header.Get("Retry-After"))
		}
	})
	t.Run("garbage is api_error", func(t *testing.T) {
		addFault(t, e, sim.Fault{Model: antUpstream, Malformed: true, Probability: 1})
		_, err := c.Messages.New(ctx, params)
		checkAPIError(t, err, 502, "api_error")
	})
	t.Run("unreachable is overloaded", func(t *testing.T) {
		p := params
		p.Model = "dead"
		_, err := c.Messages.New(ctx, p)
		checkAPIError(t, err, 529, "overloaded_error")
	})
	t.Run("cut stream", func(t *testing.T) {
		addFault(t, e, sim.Fault{Model: antUpstream, CutAfterChunks: 3, Probability: 1})
		st := c.Messages.NewStreaming(ctx, params)
		sawStop := false
		for st.Next() {
			sawStop = sawStop || st.Current().Type == "message_stop"
		}
		if sawStop {
			t.Error("a cut stream ended with message_stop")
		}
		if st.Err() == nil {
			t.Error("a cut stream ended without an error")
		}
	})
}

// TestAnthropicDoorUsageExact sends whole and streamed requests, with and
// without tools, and checks that what the gateway billed equals what the
// simulator reported, token for token.
func TestAnthropicDoorUsageExact(t *testing.T) {
	e := servertest.Start(t, servertest.Options{})
	id, key := e.CreateKey(t, server.KeyRequest{Name: "meter"})
	c := newAnthropic(e, key)
	ctx := context.Background()
	const n = 6
	var gotIn, gotOut int64
	for i := range n {
		params := anthropic.MessageNewParams{Model: "sim-openai", MaxTokens: 128,
			Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("count me " + strings.Repeat("please ", i)))}}
		if i%3 == 2 {
			params.Tools = []anthropic.ToolUnionParam{antWeather}
		}
		if i%2 == 0 {
			var msg anthropic.Message
			st := c.Messages.NewStreaming(ctx, params)
			for st.Next() {
				if err := msg.Accumulate(st.Current()); err != nil {
					t.Fatal(err)
				}
			}
			if err := st.Err(); err != nil {
				t.Fatal(err)
			}
			gotIn, gotOut = gotIn+msg.Usage.InputTokens, gotOut+msg.Usage.OutputTokens
		} else {
			msg, err := c.Messages.New(ctx, params)
			if err != nil {
				t.Fatal(err)
			}
			gotIn, gotOut = gotIn+msg.Usage.InputTokens, gotOut+msg.Usage.OutputTokens
		}
	}
	servertest.WaitFor(t, "the usage records", func() bool { return e.Usage(t, "key_id="+id).Requests == n })
	u := e.Usage(t, "key_id="+id)
	st := e.Sim.Stats()
	wantIn, wantOut := st.InputTokens[antUpstream], st.OutputTokens[antUpstream]
	if u.InputTokens != wantIn || u.OutputTokens != wantOut || wantIn == 0 {
		t.Errorf("gateway billed %d in, %d out; the simulator reported %d, %d", u.InputTokens, u.OutputTokens, wantIn, wantOut)
	}
	if gotIn != wantIn || gotOut != wantOut {
		t.Errorf("clients were told %d in, %d out; the simulator reported %d, %d", gotIn, gotOut, wantIn, wantOut)
	}
}

func apiStatus(err error) int {
	if ae, ok := errors.AsType[*anthropic.Error](err); ok {
		return ae.StatusCode
	}
	return 0
}

func checkAPIError(t *testing.T, err error, status int, typ string) *anthropic.Error {
	t.Helper()
	ae, ok := errors.AsType[*anthropic.Error](err)
	if !ok {
		t.Errorf("error %v, want an API error %d %s", err, status, typ)
		return nil
	}
	if ae.StatusCode != status || string(ae.Type()) != typ {
		t.Errorf("error %d %s (%v), want %d %s", ae.StatusCode, ae.Type(), err, status, typ)
	}
	return ae
}

type antError struct {
	Type  string `json:"type"`
	Error struct {
		Type    string `json:"type"`
		Message string `json:"message"`
	} `json:"error"`
}

func decodeAntError(t *testing.T, b []byte) antError {
	t.Helper()
	var e antError
	if err := json.Unmarshal(b, &e); err != nil || e.Type != "error" || e.Error.Type == "" || e.Error.Message == "" {
		t.Fatalf("body %s is not an Anthropic error (err %v)", b, err)
	}
	return e
}

func postAnthropic(t *testing.T, e *servertest.Env, path string, hdr map[string]string, body string) (int, http.Header, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.URL+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 32<<10)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return resp.StatusCode, resp.Header, []byte(b.String())
}

// sseEvents returns the event names and data of an SSE body.
func sseEvents(b []byte) (names, data []string) {
	for _, block := range strings.Split(string(b), "\n\n") {
		var name, d string
		for _, line := range strings.Split(block, "\n") {
			if v, ok := strings.CutPrefix(line, "event: "); ok {
				name = v
			}
			if v, ok := strings.CutPrefix(line, "data: "); ok {
				d = v
			}
		}
		if name != "" || d != "" {
			names, data = append(names, name), append(data, d)
		}
	}
	return names, data
}

// TestAnthropicDoorAuth checks every route of the door refuses a request
// without a key in Anthropic's error shape, and accepts x-api-key and
// bearer tokens.
func TestAnthropicDoorAuth(t *testing.T) {
	e := servertest.Start(t, servertest.Options{})
	_, key := e.CreateKey(t, server.KeyRequest{Name: "k"})
	const body = `{"model":"sim-openai","max_tokens":16,"messages":[{"role":"user","content":"hi"}]}`
	for _, r := range antdoor.Routes() {
		_, path, _ := strings.Cut(r, " ")
		status, _, b := postAnthropic(t, e, path, nil, body)
		if status != 401 || decodeAntError(t, b).Error.Type != "authentication_error" {
			t.Errorf("%s without a key: %d %s, want 401 authentication_error", r, status, b)
		}
		status, _, b = postAnthropic(t, e, path, map[string]string{"x-api-key": "cw-not-a-real-key"}, body)
		if status != 401 {
			t.Errorf("%s with a bad key: %d %s, want 401", r, status, b)
		}
		for _, h := range []map[string]string{{"x-api-key": key}, {"Authorization": "Bearer " + key}} {
			if status, _, b := postAnthropic(t, e, path, h, body); status != 200 {
				t.Errorf("%s with %v: %d %s, want 200", r, h, status, b)
			}
		}
	}
}

// TestAnthropicDoorBadInput checks the door validates like the API and
// answers in its error shape.
func TestAnthropicDoorBadInput(t *testing.T) {
	e := servertest.Start(t, servertest.Options{})
	_, key := e.CreateKey(t, server.KeyRequest{Name: "k"})
	hdr := map[string]string{"x-api-key": key}
	tests := []struct {
		name, body string
		status     int
		typ        string
	}{
		{"missing max_tokens", `{"model":"sim-openai","messages":[{"role":"user","content":"hi"}]}`, 400, "invalid_request_error"},
		{"zero max_tokens", `{"model":"sim-openai","max_tokens":0,"messages":[{"role":"user","content":"hi"}]}`, 400, "invalid_request_error"},
		{"missing messages", `{"model":"sim-openai","max_tokens":5}`, 400, "invalid_request_error"},
		{"system role", `{"model":"sim-openai","max_tokens":5,"messages":[{"role":"system","content":"hi"}]}`, 400, "invalid_request_error"},
		{"temperature above 1", `{"model":"sim-openai","max_tokens":5,"temperature":1.5,"messages":[{"role":"user","content":"hi"}]}`, 400, "invalid_request_error"},
		{"small thinking budget", `{"model":"sim-openai","max_tokens":5000,"thinking":{"type":"enabled","budget_tokens":100},"messages":[{"role":"user","content":"hi"}]}`, 400, "invalid_request_error"},
		{"server tool", `{"model":"sim-openai","max_tokens":5,"tools":[{"type":"web_search_20250305","name":"web_search"}],"messages":[{"role":"user","content":"hi"}]}`, 400, "invalid_request_error"},
		{"orphan tool_result", `{"model":"sim-openai","max_tokens":5,"messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_x","content":"1"}]}]}`, 400, "invalid_request_error"},
		{"not json", `{"model":`, 400, "invalid_request_error"},
		{"unknown model", `{"model":"nope","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}`, 404, "not_found_error"},
		{"too large", `{"model":"sim-openai","max_tokens":5,"messages":[{"role":"user","content":"` + strings.Repeat("x", 70000) + `"}]}`, 413, "request_too_large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, _, b := postAnthropic(t, e, "/v1/messages", hdr, tt.body)
			if got := decodeAntError(t, b); status != tt.status || got.Error.Type != tt.typ {
				t.Errorf("%d %s, want %d %s", status, b, tt.status, tt.typ)
			}
		})
	}
	if st := e.Sim.Stats(); len(st.Requests) != 0 {
		t.Errorf("the simulator received %v, want nothing", st.Requests)
	}
}

// TestAnthropicDoorClaudeCode sends a request shaped like Claude Code's:
// bearer auth, anthropic-beta, ?beta=true, system blocks with
// cache_control, tools, metadata and stream.
func TestAnthropicDoorClaudeCode(t *testing.T) {
	e := servertest.Start(t, servertest.Options{})
	id, key := e.CreateKey(t, server.KeyRequest{Name: "claude-code"})
	body := `{"model":"sim-openai","max_tokens":32000,"stream":true,
	"system":[{"type":"text","text":"You are Claude Code, Anthropic's official CLI for Claude.","cache_control":{"type":"ephemeral"}},{"type":"text","text":"Work in /repo.","cache_control":{"type":"ephemeral","ttl":"1h"}}],
	"messages":[{"role":"user","content":[{"type":"text","text":"<system-reminder>context</system-reminder>"},{"type":"text","text":"List the files","cache_control":{"type":"ephemeral"}}]}],
	"tools":[{"name":"Bash","description":"Run a command","input_schema":{"type":"object","properties":{"command":{"type":"string"}},"required":["command"],"additionalProperties":false,"$schema":"http://json-schema.org/draft-07/schema#"}},
	         {"name":"Read","description":"Read a file","input_schema":{"type":"object","properties":{"file_path":{"type":"string"}},"required":["file_path"]}}],
	"metadata":{"user_id":"user_abc_account__session_123"},
	"temperature":1,
	"context_management":{"edits":[]}}`
	status, h, b := postAnthropic(t, e, "/v1/messages?beta=true", map[string]string{
		"Authorization":     "Bearer " + key,
		"anthropic-version": "2023-06-01",
		"anthropic-beta":    "claude-code-20250219,interleaved-thinking-2025-05-14,fine-grained-tool-streaming-2025-05-14",
		"x-app":             "cli",
	}, body)
	if status != 200 || !strings.HasPrefix(h.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("status %d %s: %s", status, h.Get("Content-Type"), b)
	}
	names, data := sseEvents(b)
	if len(names) < 5 || names[0] != "message_start" || names[len(names)-1] != "message_stop" {
		t.Fatalf("events %v, want message_start … message_stop", names)
	}
	var sawTool bool
	for i, n := range names {
		var ev struct {
			Type         string `json:"type"`
			ContentBlock struct {
				Type string `json:"type"`
				Name string `json:"name"`
			} `json:"content_block"`
		}
		if err := json.Unmarshal([]byte(data[i]), &ev); err != nil || ev.Type != n {
			t.Fatalf("event %d: name %q, data %s (%v): the type must equal the event name", i, n, data[i], err)
		}
		sawTool = sawTool || ev.ContentBlock.Type == "tool_use" && ev.ContentBlock.Name == "Bash"
	}
	if !sawTool {
		t.Errorf("no Bash tool_use block in %v", names)
	}
	servertest.WaitFor(t, "the usage record", func() bool { return e.Usage(t, "key_id="+id).Requests == 1 })
	if u, st := e.Usage(t, "key_id="+id), e.Sim.Stats(); u.InputTokens != st.InputTokens[antUpstream] || u.OutputTokens != st.OutputTokens[antUpstream] {
		t.Errorf("billed %+v, the simulator reported %d in, %d out", u, st.InputTokens[antUpstream], st.OutputTokens[antUpstream])
	}
}

// TestAnthropicDoorCutStream checks a stream the upstream cuts ends with
// an error event and never with message_stop.
func TestAnthropicDoorCutStream(t *testing.T) {
	e := servertest.Start(t, servertest.Options{})
	_, key := e.CreateKey(t, server.KeyRequest{Name: "k"})
	for _, f := range []sim.Fault{
		{Model: antUpstream, CutAfterChunks: 3, Probability: 1, Count: 1},
		{Model: antUpstream, Malformed: true, CutAfterChunks: 3, Probability: 1, Count: 1},
	} {
		addFault(t, e, f)
		status, _, b := postAnthropic(t, e, "/v1/messages", map[string]string{"x-api-key": key},
			`{"model":"sim-openai","max_tokens":100,"stream":true,"messages":[{"role":"user","content":"x"}]}`)
		if status != 200 {
			t.Fatalf("status %d, want 200 (the stream had started): %s", status, b)
		}
		names, data := sseEvents(b)
		if len(names) < 2 || names[len(names)-1] != "error" {
			t.Fatalf("events %v, want the stream to end with an error event", names)
		}
		for _, n := range names {
			if n == "message_stop" || n == "message_delta" {
				t.Fatalf("events %v include %s after an upstream failure", names, n)
			}
		}
		decodeAntError(t, []byte(data[len(data)-1]))
	}
}

// TestAnthropicDoorToAnthropicProvider drives the door with the official
// SDK to an alias on the Anthropic provider: Anthropic on both sides of
// the canonical model, with pass-through fields and headers.
func TestAnthropicDoorToAnthropicProvider(t *testing.T) {
	const upstream = "claude-sonnet-4-5"
	const config = `
log: {level: warn, requests: false}
metering: {flush_interval: 20ms, drain_timeout: 10s}
limits: {max_body_bytes: 65536}
providers:
  - {name: sim-ant, type: anthropic, base_url: "${SIM}", api_key: sk-ant-sim, timeouts: {first_token: 5s, idle: 5s}}
models:
  - alias: sim-anthropic
    targets: [{provider: sim-ant, model: claude-sonnet-4-5, price: {input_per_mtok: 3, output_per_mtok: 15}}]
`
	e := servertest.Start(t, servertest.Options{Config: config, Sim: sim.Options{APIKey: "sk-ant-sim"}})
	id, key := e.CreateKey(t, server.KeyRequest{Name: "k"})
	c := anthropic.NewClient(option.WithBaseURL(e.URL), option.WithAPIKey(key), option.WithMaxRetries(0),
		option.WithHeader("anthropic-beta", "fine-grained-tool-streaming-2025-05-14"))
	ctx := context.Background()
	n := 0
	user := anthropic.NewUserMessage(anthropic.NewTextBlock("What is the weather in Rome?"))
	first, err := c.Messages.New(ctx, anthropic.MessageNewParams{Model: "sim-anthropic", MaxTokens: 256,
		System: []anthropic.TextBlockParam{{Text: "Be brief.", CacheControl: anthropic.NewCacheControlEphemeralParam()}},
		Tools:  []anthropic.ToolUnionParam{antWeather}, Messages: []anthropic.MessageParam{user}})
	if err != nil {
		t.Fatalf("messages: %v", err)
	}
	n++
	if first.StopReason != anthropic.StopReasonToolUse || first.Content[len(first.Content)-1].Type != "tool_use" {
		t.Fatalf("stop_reason %s content %+v, want a tool_use", first.StopReason, first.Content)
	}
	use := first.Content[len(first.Content)-1]
	var msg anthropic.Message
	st := c.Messages.NewStreaming(ctx, anthropic.MessageNewParams{Model: "sim-anthropic", MaxTokens: 256,
		Tools: []anthropic.ToolUnionParam{antWeather},
		Messages: []anthropic.MessageParam{user, first.ToParam(),
			anthropic.NewUserMessage(anthropic.NewToolResultBlock(use.ID, "hot", false))}})
	for st.Next() {
		if err := msg.Accumulate(st.Current()); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Err(); err != nil {
		t.Fatalf("stream: %v", err)
	}
	n++
	if !strings.Contains(textOf(&msg), "hot") {
		t.Errorf("answer %q, want the tool result", textOf(&msg))
	}
	servertest.WaitFor(t, "the usage records", func() bool { return e.Usage(t, "key_id="+id).Requests == int64(n) })
	u, ss := e.Usage(t, "key_id="+id), e.Sim.Stats()
	if u.InputTokens != ss.InputTokens[upstream] || u.OutputTokens != ss.OutputTokens[upstream] {
		t.Errorf("billed %+v, the simulator reported %d in, %d out", u, ss.InputTokens[upstream], ss.OutputTokens[upstream])
	}
	if got := first.Usage.InputTokens + first.Usage.CacheReadInputTokens + msg.Usage.InputTokens + msg.Usage.CacheReadInputTokens; got != ss.InputTokens[upstream] {
		t.Errorf("clients were told %d input tokens, the simulator reported %d", got, ss.InputTokens[upstream])
	}
}

// TestAnthropicDoorBudget checks a spent budget is a 429 rate_limit_error
// that tells the SDKs not to retry.
func TestAnthropicDoorBudget(t *testing.T) {
	e := servertest.Start(t, servertest.Options{})
	budget := 0.00001
	id, key := e.CreateKey(t, server.KeyRequest{Name: "b", BudgetUSD: &budget})
	const body = `{"model":"sim-openai","max_tokens":64,"messages":[{"role":"user","content":"hello"}]}`
	hdr := map[string]string{"x-api-key": key}
	if status, _, b := postAnthropic(t, e, "/v1/messages", hdr, body); status != 200 {
		t.Fatalf("first request: %d %s", status, b)
	}
	servertest.WaitFor(t, "the usage record", func() bool { return e.Usage(t, "key_id="+id).Requests == 1 })
	status, h, b := postAnthropic(t, e, "/v1/messages", hdr, body)
	if status != 429 || decodeAntError(t, b).Error.Type != "rate_limit_error" || h.Get("X-Should-Retry") != "false" {
		t.Fatalf("%d x-should-retry %q %s, want 429 rate_limit_error and false", status, h.Get("X-Should-Retry"), b)
	}
}
