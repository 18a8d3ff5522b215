package server_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/shared"

	"github.com/causeway-ai/causeway/internal/server"
	"github.com/causeway-ai/causeway/internal/server/servertest"
	"github.com/causeway-ai/causeway/internal/sim"
)

// The OpenAI SDK through the gateway to an Anthropic-protocol upstream
// (the simulator's /v1/messages): every request and answer crosses both
// codecs.

const antProvUpstream = "claude-sonnet-4-5"

const antProvConfig = `
log: {level: warn, requests: false}
metering: {flush_interval: 20ms, drain_timeout: 10s}
limits: {max_body_bytes: 65536}
providers:
  - name: sim-ant
    type: anthropic
    base_url: ${SIM}
    api_key: sk-ant-sim
    timeouts: {first_token: 5s, idle: 5s}
models:
  - alias: sim-anthropic
    targets: [{provider: sim-ant, model: claude-sonnet-4-5, price: {input_per_mtok: 3, output_per_mtok: 15, cached_input_per_mtok: 0.30, cache_write_per_mtok: 3.75}}]
`

func startAntProv(t *testing.T) (e *servertest.Env, id, key string, c openai.Client) {
	t.Helper()
	e = servertest.Start(t, servertest.Options{Config: antProvConfig, Sim: sim.Options{APIKey: "sk-ant-sim"}})
	id, key = e.CreateKey(t, server.KeyRequest{Name: "anthropic"})
	return e, id, key, newClient(e.URL, key)
}

func antProvStream(t *testing.T, c openai.Client, p openai.ChatCompletionNewParams) (openai.ChatCompletionAccumulator, []openai.ChatCompletionChunk) {
	t.Helper()
	st := c.Chat.Completions.NewStreaming(t.Context(), p)
	acc := openai.ChatCompletionAccumulator{}
	var chunks []openai.ChatCompletionChunk
	for st.Next() {
		acc.AddChunk(st.Current())
		chunks = append(chunks, st.Current())
	}
	if err := st.Err(); err != nil {
		t.Fatalf("stream: %v", err)
	}
	return acc, chunks
}

func TestAnthropicProvider(t *testing.T) {
	e, id, key, c := startAntProv(t)
	ctx := t.Context()
	model := "sim-anthropic"

	t.Run("whole with system prompt", func(t *testing.T) {
		resp, err := c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
			Model:    model,
			Messages: []openai.ChatCompletionMessageParamUnion{openai.SystemMessage("Be brief."), openai.UserMessage("Hello there")},
		})
		if err != nil {
			t.Fatalf("chat: %v", err)
		}
		ch := resp.Choices[0]
		if ch.Message.Content == "" || ch.FinishReason != "stop" || resp.Model != model {
			t.Fatalf("response = %+v", resp)
		}
		// The system prompt reached the upstream as its own message: 4 + 2
		// words, plus the user's 4 + 2.
		if resp.Usage.PromptTokens != 12 || resp.Usage.CompletionTokens < 20 || resp.Usage.TotalTokens != 12+resp.Usage.CompletionTokens {
			t.Errorf("usage = %+v, want 12 prompt tokens", resp.Usage)
		}
	})

	t.Run("streamed", func(t *testing.T) {
		acc, chunks := antProvStream(t, c, openai.ChatCompletionNewParams{
			Model:         model,
			Messages:      []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Stream me a sentence")},
			StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)},
		})
		var content int64
		for _, ch := range chunks {
			if len(ch.Choices) > 0 && ch.Choices[0].Delta.Content != "" {
				content++
			}
		}
		if acc.Choices[0].Message.Content == "" || acc.Choices[0].FinishReason != "stop" {
			t.Fatalf("stream = %+v", acc.Choices)
		}
		if acc.Usage.CompletionTokens != content || acc.Usage.PromptTokens != 8 {
			t.Errorf("usage = %+v, want %d completion tokens (one per content chunk) and 8 prompt", acc.Usage, content)
		}
	})

	t.Run("max tokens and stop", func(t *testing.T) {
		resp, err := c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
			Model:               model,
			Messages:            []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Cap me")},
			MaxCompletionTokens: openai.Int(3),
			Seed:                openai.Int(7), // dropped: a hint Anthropic cannot take
			Temperature:         openai.Float(0.5),
			User:                openai.String("end-user-1"),
		})
		if err != nil {
			t.Fatalf("chat: %v", err)
		}
		if resp.Choices[0].FinishReason != "length" || resp.Usage.CompletionTokens != 3 {
			t.Errorf("finish %q, %d tokens; want length and 3", resp.Choices[0].FinishReason, resp.Usage.CompletionTokens)
		}
	})

	t.Run("multi-turn", func(t *testing.T) {
		resp, err := c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
			Model: model,
			Messages: []openai.ChatCompletionMessageParamUnion{
				openai.UserMessage("First question"),
				openai.AssistantMessage("First answer"),
				openai.UserMessage("Second"),
				openai.UserMessage("question, merged with the one before"),
			},
		})
		if err != nil {
			t.Fatalf("chat: %v", err)
		}
		// Three upstream turns (the two user messages merged): 4+2, 4+2,
		// 4+1+6.
		if resp.Usage.PromptTokens != 23 || resp.Choices[0].Message.Content == "" {
			t.Errorf("usage = %+v, content %q; want 23 prompt tokens", resp.Usage, resp.Choices[0].Message.Content)
		}
	})

	t.Run("image data URL", func(t *testing.T) {
		resp, err := c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
			Model: model,
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage([]openai.ChatCompletionContentPartUnionParam{
				openai.TextContentPart("Describe"),
				openai.ImageContentPart(openai.ChatCompletionContentPartImageImageURLParam{URL: "data:image/png;base64,iVBORw0KGgo="}),
			})},
		})
		if err != nil {
			t.Fatalf("chat: %v", err)
		}
		if resp.Choices[0].Message.Content == "" || resp.Usage.PromptTokens != 5 {
			t.Errorf("response = %+v", resp)
		}
	})

	toolRoundTrip := func(t *testing.T, stream bool) {
		params := openai.ChatCompletionNewParams{
			Model:    model,
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Weather and time, in parallel please")},
			Tools:    []openai.ChatCompletionToolUnionParam{weatherTool, timeTool},
		}
		var msg openai.ChatCompletionMessage
		var finish string
		if stream {
			acc, chunks := antProvStream(t, c, params)
			msg, finish = acc.Choices[0].Message, acc.Choices[0].FinishReason
			argDeltas := map[int64]int{}
			for _, ch := range chunks {
				if len(ch.Choices) == 0 {
					continue
				}
				for _, tc := range ch.Choices[0].Delta.ToolCalls {
					if tc.Function.Arguments != "" {
						argDeltas[tc.Index]++
					}
					if tc.ID != "" && tc.Function.Arguments != "" {
						t.Errorf("the first delta of call %d carries arguments already", tc.Index)
					}
				}
			}
			if argDeltas[0] < 2 || argDeltas[1] < 2 {
				t.Errorf("argument deltas per call = %v, want several each", argDeltas)
			}
		} else {
			resp, err := c.Chat.Completions.New(ctx, params)
			if err != nil {
				t.Fatalf("chat: %v", err)
			}
			msg, finish = resp.Choices[0].Message, resp.Choices[0].FinishReason
		}
		if finish != "tool_calls" || len(msg.ToolCalls) != 2 {
			t.Fatalf("finish %q, %d tool calls; want tool_calls and 2", finish, len(msg.ToolCalls))
		}
		if msg.ToolCalls[0].Function.Name != "get_weather" || msg.ToolCalls[1].Function.Name != "get_time" || !strings.HasPrefix(msg.ToolCalls[0].ID, "toolu_") {
			t.Fatalf("tool calls = %+v", msg.ToolCalls)
		}
		var args map[string]any
		if err := json.Unmarshal([]byte(msg.ToolCalls[0].Function.Arguments), &args); err != nil {
			t.Fatalf("arguments %q: %v", msg.ToolCalls[0].Function.Arguments, err)
		}
		if _, ok := args["city"].(string); !ok {
			t.Errorf("arguments %v lack city", args)
		}
		params.Messages = append(params.Messages, msg.ToParam(),
			openai.ToolMessage(`{"temp_c": 21}`, msg.ToolCalls[0].ID),
			openai.ToolMessage("noon", msg.ToolCalls[1].ID))
		resp, err := c.Chat.Completions.New(ctx, params)
		if err != nil {
			t.Fatalf("tool result turn: %v", err)
		}
		// Both results reached the upstream in one user turn.
		if got := resp.Choices[0].Message.Content; got != `The tool returned: {"temp_c": 21}; noon.` {
			t.Errorf("answer %q does not use both tool results", got)
		}
	}
	t.Run("tool round trip", func(t *testing.T) { toolRoundTrip(t, false) })
	t.Run("tool round trip streamed", func(t *testing.T) { toolRoundTrip(t, true) })

	t.Run("forced tool without parallel calls", func(t *testing.T) {
		resp, err := c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
			Model:             model,
			Messages:          []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Time, in parallel")},
			Tools:             []openai.ChatCompletionToolUnionParam{weatherTool, timeTool},
			ParallelToolCalls: openai.Bool(false),
			ToolChoice:        openai.ToolChoiceOptionFunctionToolChoice(openai.ChatCompletionNamedToolChoiceFunctionParam{Name: "get_time"}),
		})
		if err != nil {
			t.Fatalf("chat: %v", err)
		}
		if tcs := resp.Choices[0].Message.ToolCalls; len(tcs) != 1 || tcs[0].Function.Name != "get_time" {
			t.Fatalf("tool calls = %+v, want one get_time", tcs)
		}
	})

	jsonSchema := openai.ChatCompletionNewParamsResponseFormatUnion{OfJSONSchema: &shared.ResponseFormatJSONSchemaParam{
		JSONSchema: shared.ResponseFormatJSONSchemaJSONSchemaParam{
			Name: "person",
			Schema: map[string]any{
				"type":       "object",
				"properties": map[string]any{"name": map[string]any{"type": "string"}, "age": map[string]any{"type": "integer"}},
				"required":   []string{"name", "age"},
			},
		},
	}}
	checkPerson := func(t *testing.T, content, finish string) {
		t.Helper()
		var v struct {
			Name *string `json:"name"`
			Age  *int    `json:"age"`
		}
		if err := json.Unmarshal([]byte(content), &v); err != nil || v.Name == nil || v.Age == nil {
			t.Fatalf("content %q does not match the schema (err %v)", content, err)
		}
		if finish != "stop" {
			t.Errorf("finish = %q, want stop", finish)
		}
	}
	t.Run("json schema via forced tool", func(t *testing.T) {
		resp, err := c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
			Model: model, Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("A person, please")}, ResponseFormat: jsonSchema,
		})
		if err != nil {
			t.Fatalf("chat: %v", err)
		}
		if len(resp.Choices[0].Message.ToolCalls) != 0 {
			t.Errorf("the forced tool leaked as a tool call: %+v", resp.Choices[0].Message.ToolCalls)
		}
		checkPerson(t, resp.Choices[0].Message.Content, string(resp.Choices[0].FinishReason))
	})
	t.Run("json schema via forced tool streamed", func(t *testing.T) {
		acc, _ := antProvStream(t, c, openai.ChatCompletionNewParams{
			Model: model, Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("A person, please")}, ResponseFormat: jsonSchema,
		})
		checkPerson(t, acc.Choices[0].Message.Content, acc.Choices[0].FinishReason)
	})
	t.Run("json object", func(t *testing.T) {
		resp, err := c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
			Model:          model,
			Messages:       []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Reply in JSON")},
			ResponseFormat: openai.ChatCompletionNewParamsResponseFormatUnion{OfJSONObject: &shared.ResponseFormatJSONObjectParam{}},
		})
		if err != nil {
			t.Fatalf("chat: %v", err)
		}
		var v map[string]any
		if err := json.Unmarshal([]byte(resp.Choices[0].Message.Content), &v); err != nil {
			t.Fatalf("content %q is not a JSON object: %v", resp.Choices[0].Message.Content, err)
		}
	})

	t.Run("unsupported features", func(t *testing.T) {
		for _, tc := range []struct{ name, body, want string }{
			{"n", `{"model":"sim-anthropic","n":2,"messages":[{"role":"user","content":"x"}]}`, "one choice per request"},
			{"audio", `{"model":"sim-anthropic","messages":[{"role":"user","content":[{"type":"input_audio","input_audio":{"data":"AAAA","format":"wav"}}]}]}`, "audio input is not supported by anthropic"},
			{"bad arguments", `{"model":"sim-anthropic","messages":[{"role":"user","content":"x"},{"role":"assistant","tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{not json"}}]},{"role":"tool","tool_call_id":"c1","content":"r"}]}`, "not a JSON object"},
		} {
			status, _, b := e.Post(t, key, "/v1/chat/completions", tc.body)
			if status != 400 || !strings.Contains(string(b), tc.want) {
				t.Errorf("%s: status %d body %s, want 400 naming %q", tc.name, status, b, tc.want)
			}
		}
		_, err := c.Embeddings.New(ctx, openai.EmbeddingNewParams{Model: model, Input: openai.EmbeddingNewParamsInputUnion{OfString: openai.String("x")}})
		var ae *openai.Error
		if !errors.As(err, &ae) || ae.StatusCode != 400 || !strings.Contains(ae.Message, "anthropic has no embeddings API") {
			t.Errorf("embeddings: %v, want 400", err)
		}
	})

	// Usage recorded by the gateway equals what the upstream reported.
	e.Server.Meter().Flush(ctx)
	servertest.WaitFor(t, "the usage records", func() bool {
		return e.Usage(t, "key_id="+id).OutputTokens == e.Sim.Stats().OutputTokens[antProvUpstream]
	})
	st := e.Sim.Stats()
	u := e.Usage(t, "key_id="+id)
	// Requests also counts the refused attempts, recorded without tokens.
	if u.InputTokens != st.InputTokens[antProvUpstream] || u.OutputTokens != st.OutputTokens[antProvUpstream] || u.Requests < st.Completed[antProvUpstream] {
		t.Errorf("gateway usage = %+v, simulator stats: %d completed, %d in, %d out", u, st.Completed[antProvUpstream], st.InputTokens[antProvUpstream], st.OutputTokens[antProvUpstream])
	}
}

func TestAnthropicProviderErrors(t *testing.T) {
	// Each case gets its own gateway, so that no failure of one trips the
	// router's health checks for the next.
	const hi = `{"model":"sim-anthropic","messages":[{"role":"user","content":"hi"}]}`
	const hiStream = `{"model":"sim-anthropic","stream":true,"messages":[{"role":"user","content":"hi"}]}`
	fault := func(t *testing.T, f sim.Fault) (*servertest.Env, string) {
		e, _, key, _ := startAntProv(t)
		f.Model = antProvUpstream
		e.Sim.AddFault(f)
		return e, key
	}
	for _, tc := range []struct {
		name   string
		fault  sim.Fault
		body   string
		status int
		retry  string
	}{
		{"overloaded 529", sim.Fault{Status: 529}, hi, 502, ""},
		{"rate limited 429", sim.Fault{Status: 429, RetryAfterS: 30}, hi, 429, "30"},
		{"api error 500", sim.Fault{Status: 500}, hi, 502, ""},
		{"invalid 400", sim.Fault{Status: 400, Message: "messages: roles must alternate"}, hi, 400, ""},
		{"garbage whole", sim.Fault{Malformed: true}, hi, 502, ""},
		{"overloaded 529 streamed", sim.Fault{Status: 529}, hiStream, 502, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, key := fault(t, tc.fault)
			status, h, b := e.Post(t, key, "/v1/chat/completions", tc.body)
			if status != tc.status || h.Get("Retry-After") != tc.retry {
				t.Fatalf("status %d retry-after %q, want %d %q: %s", status, h.Get("Retry-After"), tc.status, tc.retry, b)
			}
			eb := decodeError(t, b)
			if tc.fault.Message != "" && !strings.Contains(eb.Error.Message, tc.fault.Message) {
				t.Errorf("message %q lacks the upstream's %q", eb.Error.Message, tc.fault.Message)
			}
		})
	}
	for _, tc := range []struct {
		name  string
		fault sim.Fault
		want  string
	}{
		{"error event mid-stream", sim.Fault{Status: 529, CutAfterChunks: 5}, "Overloaded"},
		{"cut stream", sim.Fault{CutAfterChunks: 5}, ""},
		{"garbage mid-stream", sim.Fault{Malformed: true, CutAfterChunks: 5}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, key := fault(t, tc.fault)
			status, _, b := e.Post(t, key, "/v1/chat/completions", hiStream)
			if status != 200 {
				t.Fatalf("status %d, want 200 (the stream had started): %s", status, b)
			}
			var evs []string
			sc := bufio.NewScanner(bytes.NewReader(b))
			for sc.Scan() {
				if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
					evs = append(evs, d)
				}
			}
			if len(evs) < 2 {
				t.Fatalf("events %q", evs)
			}
			last := evs[len(evs)-1]
			if last == "[DONE]" {
				t.Fatalf("stream ended with [DONE] after an upstream failure: %q", evs)
			}
			eb := decodeError(t, []byte(last))
			if !strings.Contains(eb.Error.Message, tc.want) {
				t.Errorf("error %q lacks %q", eb.Error.Message, tc.want)
			}
			if st := e.Sim.Stats(); st.Completed[antProvUpstream] != 0 {
				t.Errorf("stats = %+v: a faulted request completed", st)
			}
		})
	}
}
