package server_test

import (
	"context"
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

// bedrockModel is a cross-region inference profile id: its ':' travels
// escaped in the path and is part of the signature.
const bedrockModel = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"

const bedrockConfig = `
log: {level: warn, requests: false}
metering: {flush_interval: 20ms, drain_timeout: 10s}
providers:
  - name: bedrock
    type: bedrock
    base_url: ${SIM}
    region: us-east-1
    access_key_id: ` + sim.BedrockAccessKeyID + `
    secret_access_key: ` + sim.BedrockSecretAccessKey + `
    timeouts: {first_token: 5s, idle: 5s}
  - name: bedrock-badsig
    type: bedrock
    base_url: ${SIM}
    region: us-east-1
    access_key_id: ` + sim.BedrockAccessKeyID + `
    secret_access_key: not-the-secret
models:
  - alias: sim-bedrock
    targets: [{provider: bedrock, model: "` + bedrockModel + `", price: {input_per_mtok: 3, output_per_mtok: 15, cached_input_per_mtok: 0.30}}]
  - alias: sim-bedrock-titan
    targets: [{provider: bedrock, model: "amazon.titan-embed-text-v2:0", price: {input_per_mtok: 0.02, output_per_mtok: 0}}]
  - alias: sim-bedrock-cohere
    targets: [{provider: bedrock, model: "cohere.embed-english-v3", price: {input_per_mtok: 0.10, output_per_mtok: 0}}]
  - alias: bedrock-badsig
    targets: [{provider: bedrock-badsig, model: "` + bedrockModel + `", price: {input_per_mtok: 1, output_per_mtok: 1}}]
`

func startBedrock(t *testing.T) (*servertest.Env, string, openai.Client) {
	t.Helper()
	e := servertest.Start(t, servertest.Options{Config: bedrockConfig})
	id, key := e.CreateKey(t, server.KeyRequest{Name: "bedrock"})
	return e, id, newClient(e.URL, key)
}

func TestBedrockThroughGateway(t *testing.T) {
	e, _, c := startBedrock(t)
	ctx := context.Background()
	const alias = "sim-bedrock"

	t.Run("whole with system prompt", func(t *testing.T) {
		resp, err := c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
			Model:    alias,
			Messages: []openai.ChatCompletionMessageParamUnion{openai.SystemMessage("Be brief."), openai.UserMessage("Hello there")},
		})
		if err != nil {
			t.Fatalf("chat: %v", err)
		}
		if resp.Choices[0].Message.Content == "" || resp.Choices[0].FinishReason != "stop" || resp.Model != alias {
			t.Fatalf("response %+v, want content, stop and model %s", resp, alias)
		}
		// 4 + 2 words of system prompt, 4 + 2 of user message.
		if resp.Usage.PromptTokens != 12 || resp.Usage.CompletionTokens == 0 || resp.Usage.TotalTokens != resp.Usage.PromptTokens+resp.Usage.CompletionTokens {
			t.Errorf("usage %+v, want 12 prompt tokens and consistent totals", resp.Usage)
		}
	})

	t.Run("multi-turn and max tokens", func(t *testing.T) {
		resp, err := c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
			Model: alias,
			Messages: []openai.ChatCompletionMessageParamUnion{
				openai.UserMessage("First question"), openai.AssistantMessage("First answer"), openai.UserMessage("Second question"),
			},
			MaxCompletionTokens: openai.Int(3),
			Temperature:         openai.Float(0.2),
		})
		if err != nil {
			t.Fatalf("chat: %v", err)
		}
		if resp.Usage.CompletionTokens != 3 || resp.Choices[0].FinishReason != "length" {
			t.Errorf("completion tokens %d finish %q, want 3 and length", resp.Usage.CompletionTokens, resp.Choices[0].FinishReason)
		}
		if resp.Usage.PromptTokens != 3*4+6 {
			t.Errorf("prompt tokens %d, want %d", resp.Usage.PromptTokens, 3*4+6)
		}
	})

	t.Run("stream", func(t *testing.T) {
		st := c.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{
			Model:         alias,
			Messages:      []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Stream me a sentence")},
			StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)},
		})
		acc := openai.ChatCompletionAccumulator{}
		var contentChunks int64
		for st.Next() {
			ch := st.Current()
			acc.AddChunk(ch)
			if len(ch.Choices) > 0 && ch.Choices[0].Delta.Content != "" {
				contentChunks++
			}
		}
		if err := st.Err(); err != nil {
			t.Fatalf("stream: %v", err)
		}
		if acc.Choices[0].Message.Content == "" || acc.Choices[0].FinishReason != "stop" {
			t.Fatalf("content %q finish %q", acc.Choices[0].Message.Content, acc.Choices[0].FinishReason)
		}
		if acc.Usage.CompletionTokens != contentChunks || contentChunks < 2 {
			t.Errorf("completion tokens %d, want one per content chunk (%d)", acc.Usage.CompletionTokens, contentChunks)
		}
	})

	toolRoundTrip := func(t *testing.T, stream bool) {
		params := openai.ChatCompletionNewParams{
			Model:    alias,
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("What is the weather in Paris?")},
			Tools:    []openai.ChatCompletionToolUnionParam{weatherTool},
		}
		var msg openai.ChatCompletionMessage
		var finish string
		if stream {
			st := c.Chat.Completions.NewStreaming(ctx, params)
			acc := openai.ChatCompletionAccumulator{}
			argDeltas := 0
			for st.Next() {
				ch := st.Current()
				acc.AddChunk(ch)
				if len(ch.Choices) > 0 && len(ch.Choices[0].Delta.ToolCalls) > 0 && ch.Choices[0].Delta.ToolCalls[0].Function.Arguments != "" {
					argDeltas++
				}
			}
			if err := st.Err(); err != nil {
				t.Fatalf("stream: %v", err)
			}
			if argDeltas < 3 {
				t.Errorf("tool arguments came in %d deltas, want them streamed in several", argDeltas)
			}
			msg, finish = acc.Choices[0].Message, acc.Choices[0].FinishReason
		} else {
			resp, err := c.Chat.Completions.New(ctx, params)
			if err != nil {
				t.Fatalf("chat: %v", err)
			}
			msg, finish = resp.Choices[0].Message, resp.Choices[0].FinishReason
		}
		if finish != "tool_calls" || len(msg.ToolCalls) != 1 {
			t.Fatalf("finish=%q tool_calls=%d, want tool_calls and 1", finish, len(msg.ToolCalls))
		}
		tc := msg.ToolCalls[0]
		var args map[string]any
		if err := json.Unmarshal([]byte(tc.Function.Arguments), &args); err != nil || tc.Function.Name != "get_weather" || tc.ID == "" {
			t.Fatalf("tool call %+v (args err %v), want get_weather with JSON arguments and an id", tc, err)
		}
		if _, ok := args["city"].(string); !ok {
			t.Errorf("arguments %v: city is not a string", args)
		}
		params.Messages = append(params.Messages, msg.ToParam(), openai.ToolMessage(`{"temp_c": 21}`, tc.ID))
		resp, err := c.Chat.Completions.New(ctx, params)
		if err != nil {
			t.Fatalf("tool result turn: %v", err)
		}
		if got := resp.Choices[0].Message.Content; !strings.Contains(got, `{"temp_c": 21}`) {
			t.Errorf("answer %q does not use the tool result", got)
		}
	}
	t.Run("tool round trip", func(t *testing.T) { toolRoundTrip(t, false) })
	t.Run("tool round trip streamed", func(t *testing.T) { toolRoundTrip(t, true) })

	t.Run("forced tool choice", func(t *testing.T) {
		resp, err := c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
			Model:      alias,
			Messages:   []openai.ChatCompletionMessageParamUnion{openai.UserMessage("What time is it?")},
			Tools:      []openai.ChatCompletionToolUnionParam{weatherTool, timeTool},
			ToolChoice: openai.ToolChoiceOptionFunctionToolChoice(openai.ChatCompletionNamedToolChoiceFunctionParam{Name: "get_time"}),
		})
		if err != nil {
			t.Fatalf("chat: %v", err)
		}
		if tcs := resp.Choices[0].Message.ToolCalls; len(tcs) != 1 || tcs[0].Function.Name != "get_time" {
			t.Fatalf("tool calls = %+v, want one get_time", tcs)
		}
	})

	t.Run("json object via forced tool", func(t *testing.T) {
		for _, stream := range []bool{false, true} {
			params := openai.ChatCompletionNewParams{
				Model:          alias,
				Messages:       []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Reply in JSON")},
				ResponseFormat: openai.ChatCompletionNewParamsResponseFormatUnion{OfJSONObject: &shared.ResponseFormatJSONObjectParam{}},
			}
			var content, finish string
			if stream {
				st := c.Chat.Completions.NewStreaming(ctx, params)
				acc := openai.ChatCompletionAccumulator{}
				for st.Next() {
					acc.AddChunk(st.Current())
				}
				if err := st.Err(); err != nil {
					t.Fatalf("stream: %v", err)
				}
				content, finish = acc.Choices[0].Message.Content, acc.Choices[0].FinishReason
			} else {
				resp, err := c.Chat.Completions.New(ctx, params)
				if err != nil {
					t.Fatalf("chat: %v", err)
				}
				content, finish = resp.Choices[0].Message.Content, resp.Choices[0].FinishReason
			}
			var v map[string]any
			if err := json.Unmarshal([]byte(content), &v); err != nil || finish != "stop" {
				t.Fatalf("stream=%t: content %q finish %q, want a JSON object and stop (err %v)", stream, content, finish, err)
			}
		}
	})

	t.Run("json schema via forced tool", func(t *testing.T) {
		resp, err := c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
			Model:    alias,
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("A person, please")},
			ResponseFormat: openai.ChatCompletionNewParamsResponseFormatUnion{OfJSONSchema: &shared.ResponseFormatJSONSchemaParam{
				JSONSchema: shared.ResponseFormatJSONSchemaJSONSchemaParam{
					Name: "person",
					Schema: map[string]any{
						"type":       "object",
						"properties": map[string]any{"name": map[string]any{"type": "string"}, "age": map[string]any{"type": "integer"}},
						"required":   []string{"name", "age"},
					},
				},
			}},
		})
		if err != nil {
			t.Fatalf("chat: %v", err)
		}
		var v struct {
			Name *string `json:"name"`
			Age  *int    `json:"age"`
		}
		if err := json.Unmarshal([]byte(resp.Choices[0].Message.Content), &v); err != nil || v.Name == nil || v.Age == nil {
			t.Fatalf("content %q does not match the schema (err %v)", resp.Choices[0].Message.Content, err)
		}
	})

	t.Run("image data URL", func(t *testing.T) {
		resp, err := c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
			Model: alias,
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage([]openai.ChatCompletionContentPartUnionParam{
				openai.TextContentPart("Describe"), openai.ImageContentPart(openai.ChatCompletionContentPartImageImageURLParam{URL: "data:image/png;base64,iVBORw0KGgo="}),
			})},
		})
		if err != nil {
			t.Fatalf("chat: %v", err)
		}
		if resp.Choices[0].Message.Content == "" {
			t.Fatal("no content")
		}
	})

	t.Run("unsupported features are a 400 that says so", func(t *testing.T) {
		for name, params := range map[string]openai.ChatCompletionNewParams{
			"image URL": {Model: alias, Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage([]openai.ChatCompletionContentPartUnionParam{
				openai.ImageContentPart(openai.ChatCompletionContentPartImageImageURLParam{URL: "https://example.com/cat.png"})})}},
			"n": {Model: alias, N: openai.Int(2), Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("x")}},
		} {
			_, err := c.Chat.Completions.New(ctx, params)
			var ae *openai.Error
			if !errors.As(err, &ae) || ae.StatusCode != 400 || !strings.Contains(ae.Message, "bedrock") {
				t.Errorf("%s: err = %v, want a 400 naming bedrock", name, err)
			}
		}
	})

	t.Run("embeddings", func(t *testing.T) {
		for _, model := range []string{"sim-bedrock-titan", "sim-bedrock-cohere"} {
			params := openai.EmbeddingNewParams{Model: model, Input: openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: []string{"alpha", "beta gamma"}},
				EncodingFormat: openai.EmbeddingNewParamsEncodingFormatFloat}
			if model == "sim-bedrock-titan" {
				params.Dimensions = openai.Int(256)
			}
			resp, err := c.Embeddings.New(ctx, params)
			if err != nil {
				t.Fatalf("%s: %v", model, err)
			}
			if len(resp.Data) != 2 || len(resp.Data[0].Embedding) == 0 || resp.Usage.PromptTokens != 3 {
				t.Fatalf("%s: %d vectors, usage %+v; want 2 and 3 prompt tokens", model, len(resp.Data), resp.Usage)
			}
		}
	})

	t.Run("throttled upstream is a 429", func(t *testing.T) {
		// A Retry-After beyond the alias's max_retry_after (10s) is not
		// waited for: the client gets the 429 and the upstream's delay.
		addFault(t, e, sim.Fault{Model: bedrockModel, Status: 429, RetryAfterS: 30, Count: 1})
		status, h, b := e.Post(t, keyOf(t, e), "/v1/chat/completions", `{"model":"sim-bedrock","messages":[{"role":"user","content":"x"}]}`)
		if status != 429 || h.Get("Retry-After") != "30" || !strings.Contains(string(b), "ThrottlingException") {
			t.Fatalf("status %d retry-after %q, want 429 with ThrottlingException and 30: %s", status, h.Get("Retry-After"), b)
		}
		decodeError(t, b)
	})
	t.Run("upstream validation is a 400", func(t *testing.T) {
		addFault(t, e, sim.Fault{Model: bedrockModel, Status: 400, Count: 1})
		status, _, b := e.Post(t, keyOf(t, e), "/v1/chat/completions", `{"model":"sim-bedrock","messages":[{"role":"user","content":"x"}]}`)
		if status != 400 || !strings.Contains(string(b), "ValidationException") {
			t.Fatalf("status %d, want 400 with ValidationException: %s", status, b)
		}
	})
	t.Run("bad signature is a 502", func(t *testing.T) {
		status, _, b := e.Post(t, keyOf(t, e), "/v1/chat/completions", `{"model":"bedrock-badsig","messages":[{"role":"user","content":"x"}]}`)
		if status != 502 || !strings.Contains(string(b), "InvalidSignatureException") {
			t.Fatalf("status %d, want 502 naming InvalidSignatureException: %s", status, b)
		}
	})
	for name, f := range map[string]sim.Fault{
		"corrupt frame mid-stream":   {Model: bedrockModel, Malformed: true, CutAfterChunks: 4, Count: 1},
		"truncated frame mid-stream": {Model: bedrockModel, CutAfterChunks: 4, Count: 1},
	} {
		t.Run(name, func(t *testing.T) {
			addFault(t, e, f)
			status, _, b := e.Post(t, keyOf(t, e), "/v1/chat/completions", `{"model":"sim-bedrock","stream":true,"messages":[{"role":"user","content":"x"}]}`)
			if status != 200 {
				t.Fatalf("status %d, want 200 (the stream had started): %s", status, b)
			}
			evs := readSSE(t, b)
			if len(evs) < 2 {
				t.Fatalf("events %q, want content then an error", evs)
			}
			last := evs[len(evs)-1]
			if last == "[DONE]" {
				t.Fatalf("stream ended with [DONE] after a corrupt upstream frame: %q", evs)
			}
			if eb := decodeError(t, []byte(last)); !strings.Contains(eb.Error.Message, "frame") {
				t.Errorf("error %q does not name the frame", eb.Error.Message)
			}
		})
	}
}

// keyOf creates a key for a one-off raw request.
func keyOf(t *testing.T, e *servertest.Env) string {
	t.Helper()
	_, key := e.CreateKey(t, server.KeyRequest{Name: "raw"})
	return key
}

// TestBedrockUsageExact checks that what the gateway metered equals what
// the simulator says it served, for every kind of Bedrock request.
func TestBedrockUsageExact(t *testing.T) {
	e, id, c := startBedrock(t)
	ctx := context.Background()
	user := func(s string) []openai.ChatCompletionMessageParamUnion {
		return []openai.ChatCompletionMessageParamUnion{openai.SystemMessage("You are terse."), openai.UserMessage(s)}
	}
	n := 0
	for i, stream := range []bool{false, true, false, true} {
		p := openai.ChatCompletionNewParams{Model: "sim-bedrock", Messages: user("count me " + strings.Repeat("x ", i))}
		if i >= 2 {
			p.Tools = []openai.ChatCompletionToolUnionParam{weatherTool}
		}
		if stream {
			st := c.Chat.Completions.NewStreaming(ctx, p)
			for st.Next() {
			}
			if err := st.Err(); err != nil {
				t.Fatal(err)
			}
		} else if _, err := c.Chat.Completions.New(ctx, p); err != nil {
			t.Fatal(err)
		}
		n++
	}
	if _, err := c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "sim-bedrock", Messages: user("json"),
		ResponseFormat: openai.ChatCompletionNewParamsResponseFormatUnion{OfJSONObject: &shared.ResponseFormatJSONObjectParam{}}}); err != nil {
		t.Fatal(err)
	}
	n++
	servertest.WaitFor(t, "the usage records", func() bool { return e.Usage(t, "key_id="+id).Requests == int64(n) })
	st := e.Sim.Stats()
	u := e.Usage(t, "key_id="+id)
	if u.InputTokens != st.InputTokens[bedrockModel] || u.OutputTokens != st.OutputTokens[bedrockModel] || u.InputTokens == 0 {
		t.Fatalf("metered %d in / %d out, the simulator served %d in / %d out", u.InputTokens, u.OutputTokens,
			st.InputTokens[bedrockModel], st.OutputTokens[bedrockModel])
	}
}
