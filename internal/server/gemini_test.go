package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/shared"

	"github.com/causeway-ai/causeway/internal/server"
	"github.com/causeway-ai/causeway/internal/server/servertest"
	"github.com/causeway-ai/causeway/internal/sim"
)

// geminiConfig routes sim-gemini to the simulator's Gemini API.
const geminiConfig = `
log: {level: warn, requests: false}
metering: {flush_interval: 20ms, drain_timeout: 10s}
providers:
  - name: gemini
    type: gemini
    base_url: ${SIM}
    api_key: gemini-key
    timeouts: {first_token: 5s, idle: 5s}
models:
  - alias: sim-gemini
    targets: [{provider: gemini, model: gemini-2.5-flash, price: {input_per_mtok: 0.30, output_per_mtok: 2.50, cached_input_per_mtok: 0.075}}]
  - alias: sim-gemini-faults
    targets: [{provider: gemini, model: gemini-faults, price: {input_per_mtok: 0.30, output_per_mtok: 2.50}}]
    retry: {max_attempts: 1}
    health: {consecutive_failures: 100}
  - alias: sim-gemini-embed
    targets: [{provider: gemini, model: gemini-embedding-001, price: {input_per_mtok: 0.15, output_per_mtok: 0}}]
`

func startGemini(t *testing.T) (*servertest.Env, openai.Client, string) {
	t.Helper()
	e := servertest.Start(t, servertest.Options{Config: geminiConfig, Sim: sim.Options{APIKey: "gemini-key"}})
	id, key := e.CreateKey(t, server.KeyRequest{Name: "gemini"})
	return e, openai.NewClient(option.WithBaseURL(e.URL+"/v1/"), option.WithAPIKey(key), option.WithMaxRetries(0)), id
}

var geminiTools = []openai.ChatCompletionToolUnionParam{
	openai.ChatCompletionFunctionTool(shared.FunctionDefinitionParam{
		Name:        "get_weather",
		Description: openai.String("Weather for a city"),
		Parameters: shared.FunctionParameters{
			"type":                 "object",
			"additionalProperties": false,
			"properties": map[string]any{
				"city":  map[string]any{"type": "string"},
				"units": map[string]any{"type": "string", "enum": []string{"celsius", "fahrenheit"}},
			},
			"required": []string{"city", "units"},
		},
	}),
	openai.ChatCompletionFunctionTool(shared.FunctionDefinitionParam{
		Name:       "get_time",
		Parameters: shared.FunctionParameters{"type": "object", "properties": map[string]any{"zone": map[string]any{"type": "string"}}},
	}),
}

// TestGeminiThroughGateway drives the gateway with the OpenAI SDK to the
// Gemini provider and checks every answer, and that the usage the gateway
// recorded is exactly what the simulator counted.
func TestGeminiThroughGateway(t *testing.T) {
	e, c, keyID := startGemini(t)
	ctx := context.Background()
	// requests counts the requests the gateway records; failed those the
	// upstream refused (recorded, with no tokens, but not completed).
	var requests, failed int64

	var whole *openai.ChatCompletion
	t.Run("whole with system prompt", func(t *testing.T) {
		resp, err := c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
			Model:    "sim-gemini",
			Messages: []openai.ChatCompletionMessageParamUnion{openai.SystemMessage("Be brief."), openai.UserMessage("Hello there")},
		})
		requests++
		if err != nil {
			t.Fatalf("chat: %v", err)
		}
		whole = resp
		if len(resp.Choices) != 1 || resp.Choices[0].Message.Content == "" || resp.Choices[0].FinishReason != "stop" {
			t.Fatalf("choices = %+v, want one stopped with content", resp.Choices)
		}
		// System instruction "Be brief." and the user turn: 4+2 each.
		if resp.Usage.PromptTokens != 12 || resp.Usage.CompletionTokens < 20 {
			t.Errorf("usage = %+v, want 12 prompt tokens and ≥ 20 completion", resp.Usage)
		}
		if resp.Model != "sim-gemini" {
			t.Errorf("model = %q, want sim-gemini", resp.Model)
		}
	})

	t.Run("streamed", func(t *testing.T) {
		st := c.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{
			Model:         "sim-gemini",
			Messages:      []openai.ChatCompletionMessageParamUnion{openai.SystemMessage("Be brief."), openai.UserMessage("Hello there")},
			StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)},
		})
		requests++
		var acc openai.ChatCompletionAccumulator
		chunks := 0
		for st.Next() {
			acc.AddChunk(st.Current())
			chunks++
		}
		if err := st.Err(); err != nil {
			t.Fatalf("stream: %v", err)
		}
		if whole != nil && acc.Choices[0].Message.Content != whole.Choices[0].Message.Content {
			t.Errorf("streamed %q, want the whole answer %q", acc.Choices[0].Message.Content, whole.Choices[0].Message.Content)
		}
		if acc.Choices[0].FinishReason != "stop" || acc.Usage.PromptTokens != 12 || chunks < 20 {
			t.Errorf("finish %q, usage %+v, %d chunks", acc.Choices[0].FinishReason, acc.Usage, chunks)
		}
	})

	t.Run("tool round trip", func(t *testing.T) {
		msgs := []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Weather in Paris?")}
		st := c.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{Model: "sim-gemini", Messages: msgs, Tools: geminiTools})
		requests++
		var acc openai.ChatCompletionAccumulator
		for st.Next() {
			acc.AddChunk(st.Current())
		}
		if err := st.Err(); err != nil {
			t.Fatalf("stream: %v", err)
		}
		calls := acc.Choices[0].Message.ToolCalls
		if len(calls) != 1 || calls[0].Function.Name != "get_weather" || calls[0].ID == "" || acc.Choices[0].FinishReason != "tool_calls" {
			t.Fatalf("calls = %+v, finish %q; want one get_weather call, tool_calls", calls, acc.Choices[0].FinishReason)
		}
		var args struct{ City, Units string }
		if err := json.Unmarshal([]byte(calls[0].Function.Arguments), &args); err != nil || args.City == "" || args.Units != "celsius" {
			t.Errorf("arguments %q (%v), want city and units celsius", calls[0].Function.Arguments, err)
		}
		// The tool message carries no function name: the codec finds it.
		msgs = append(msgs, acc.Choices[0].Message.ToParam(), openai.ToolMessage("21C and sunny", calls[0].ID))
		resp, err := c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "sim-gemini", Messages: msgs, Tools: geminiTools})
		requests++
		if err != nil {
			t.Fatalf("after the tool: %v", err)
		}
		if got, want := resp.Choices[0].Message.Content, "The tool returned: 21C and sunny."; got != want {
			t.Errorf("answer %q, want %q", got, want)
		}
	})

	t.Run("thinking tool round trip", func(t *testing.T) {
		// reasoning_effort turns Gemini's thinking on; the thought
		// signature of the call travels in its id and must come back.
		msgs := []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Weather in Rome?")}
		params := openai.ChatCompletionNewParams{Model: "sim-gemini", Messages: msgs, Tools: geminiTools,
			ReasoningEffort: shared.ReasoningEffortLow, StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}}
		st := c.Chat.Completions.NewStreaming(ctx, params)
		requests++
		var acc openai.ChatCompletionAccumulator
		for st.Next() {
			acc.AddChunk(st.Current())
		}
		if err := st.Err(); err != nil {
			t.Fatalf("stream: %v", err)
		}
		calls := acc.Choices[0].Message.ToolCalls
		if len(calls) != 1 || !strings.Contains(calls[0].ID, "__thought__") {
			t.Fatalf("calls = %+v, want one whose id carries the thought signature", calls)
		}
		if r := acc.Usage.CompletionTokensDetails.ReasoningTokens; r < 20 || acc.Usage.CompletionTokens <= r {
			t.Errorf("usage = %+v, want ≥ 20 reasoning tokens inside completion_tokens", acc.Usage)
		}
		params.Messages = append(msgs, acc.Choices[0].Message.ToParam(), openai.ToolMessage("18C", calls[0].ID))
		params.StreamOptions = openai.ChatCompletionStreamOptionsParam{}
		resp, err := c.Chat.Completions.New(ctx, params)
		requests++
		if err != nil {
			t.Fatalf("after the tool: %v", err)
		}
		if got, want := resp.Choices[0].Message.Content, "The tool returned: 18C."; got != want {
			t.Errorf("answer %q, want %q", got, want)
		}
		// Without the signature, the simulator (as Gemini 3) refuses.
		params.Messages = append(msgs, openai.ChatCompletionMessageParamUnion{OfAssistant: &openai.ChatCompletionAssistantMessageParam{
			ToolCalls: []openai.ChatCompletionMessageToolCallUnionParam{{OfFunction: &openai.ChatCompletionMessageFunctionToolCallParam{
				ID: "call_0", Function: openai.ChatCompletionMessageFunctionToolCallFunctionParam{Name: "get_weather", Arguments: "{}"}}}},
		}}, openai.ToolMessage("18C", "call_0"))
		_, err = c.Chat.Completions.New(ctx, params)
		requests++
		failed++
		if ae, ok := errors.AsType[*openai.Error](err); !ok || ae.StatusCode != 400 || !strings.Contains(ae.Message, "thought_signature") {
			t.Errorf("without the signature: %v, want a 400 about thought_signature", err)
		}
	})

	t.Run("parallel calls, whole", func(t *testing.T) {
		resp, err := c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "sim-gemini", Tools: geminiTools,
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Weather and time, in parallel")}})
		requests++
		if err != nil {
			t.Fatal(err)
		}
		calls := resp.Choices[0].Message.ToolCalls
		if len(calls) != 2 || calls[0].Function.Name != "get_weather" || calls[1].Function.Name != "get_time" || calls[0].ID == calls[1].ID {
			t.Fatalf("calls = %+v, want get_weather and get_time with distinct ids", calls)
		}
		msgs := []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Weather and time, in parallel"), resp.Choices[0].Message.ToParam(),
			openai.ToolMessage("21C", calls[0].ID), openai.ToolMessage("noon", calls[1].ID)}
		resp, err = c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "sim-gemini", Tools: geminiTools, Messages: msgs})
		requests++
		if err != nil {
			t.Fatal(err)
		}
		if got, want := resp.Choices[0].Message.Content, "The tool returned: 21C; noon."; got != want {
			t.Errorf("answer %q, want %q", got, want)
		}
	})

	t.Run("forced tool", func(t *testing.T) {
		resp, err := c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "sim-gemini", Tools: geminiTools,
			ToolChoice: openai.ToolChoiceOptionFunctionToolChoice(openai.ChatCompletionNamedToolChoiceFunctionParam{Name: "get_time"}),
			Messages:   []openai.ChatCompletionMessageParamUnion{openai.UserMessage("What now?")}})
		requests++
		if err != nil {
			t.Fatal(err)
		}
		if calls := resp.Choices[0].Message.ToolCalls; len(calls) != 1 || calls[0].Function.Name != "get_time" {
			t.Errorf("calls = %+v, want get_time", calls)
		}
	})

	t.Run("json schema", func(t *testing.T) {
		resp, err := c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
			Model:    "sim-gemini",
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("A person")},
			ResponseFormat: openai.ChatCompletionNewParamsResponseFormatUnion{OfJSONSchema: &shared.ResponseFormatJSONSchemaParam{
				JSONSchema: shared.ResponseFormatJSONSchemaJSONSchemaParam{Name: "person", Strict: openai.Bool(true), Schema: map[string]any{
					"type": "object", "additionalProperties": false, "required": []string{"name", "age"},
					"properties": map[string]any{"name": map[string]any{"type": "string"}, "age": map[string]any{"type": "integer"}},
				}},
			}},
		})
		requests++
		if err != nil {
			t.Fatal(err)
		}
		var v struct {
			Name *string
			Age  *int
		}
		if err := json.Unmarshal([]byte(resp.Choices[0].Message.Content), &v); err != nil || v.Name == nil || v.Age == nil {
			t.Errorf("content %q (%v), want an object with name and age", resp.Choices[0].Message.Content, err)
		}
	})

	t.Run("multi-turn with image", func(t *testing.T) {
		resp, err := c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
			Model: "sim-gemini",
			Messages: []openai.ChatCompletionMessageParamUnion{
				openai.UserMessage("Hi"),
				openai.AssistantMessage("Hello, how can I help?"),
				openai.UserMessage([]openai.ChatCompletionContentPartUnionParam{
					openai.TextContentPart("Describe this"),
					openai.ImageContentPart(openai.ChatCompletionContentPartImageImageURLParam{URL: "data:image/png;base64,iVBORw0KGgo="}),
				}),
			},
			MaxCompletionTokens: openai.Int(3),
			Stop:                openai.ChatCompletionNewParamsStopUnion{OfStringArray: []string{"\n\n"}},
		})
		requests++
		if err != nil {
			t.Fatal(err)
		}
		// 4+1, 4+5, 4+2 words.
		if resp.Usage.PromptTokens != 20 || resp.Usage.CompletionTokens != 3 || resp.Choices[0].FinishReason != "length" {
			t.Errorf("usage %+v, finish %q; want 20 prompt, 3 completion, length", resp.Usage, resp.Choices[0].FinishReason)
		}
	})

	t.Run("usage is exact", func(t *testing.T) {
		servertest.WaitFor(t, "the usage records", func() bool { return e.Usage(t, "key_id="+keyID).Requests >= requests })
		u := e.Usage(t, "key_id="+keyID)
		st := e.Sim.Stats()
		if u.InputTokens != st.InputTokens["gemini-2.5-flash"] || u.OutputTokens != st.OutputTokens["gemini-2.5-flash"] {
			t.Errorf("gateway usage %d in / %d out, simulator counted %d / %d", u.InputTokens, u.OutputTokens,
				st.InputTokens["gemini-2.5-flash"], st.OutputTokens["gemini-2.5-flash"])
		}
		if u.Requests != requests || st.Completed["gemini-2.5-flash"] != requests-failed {
			t.Errorf("gateway %d requests, simulator completed %d; want %d and %d", u.Requests, st.Completed["gemini-2.5-flash"], requests, requests-failed)
		}
		if u.CostUSD <= 0 {
			t.Errorf("cost = %v, want priced", u.CostUSD)
		}
	})
}

// TestGeminiGatewayErrors checks what Gemini cannot express and upstream
// faults reach the client with the right status.
func TestGeminiGatewayErrors(t *testing.T) {
	e, c, _ := startGemini(t)
	ctx := context.Background()
	status := func(err error) int {
		if ae, ok := errors.AsType[*openai.Error](err); ok {
			return ae.StatusCode
		}
		t.Fatalf("error %v is not an API error", err)
		return 0
	}
	message := func(err error) string {
		if ae, ok := errors.AsType[*openai.Error](err); ok {
			return ae.Message
		}
		return ""
	}
	user := []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}

	t.Run("http image URL", func(t *testing.T) {
		_, err := c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "sim-gemini", Messages: []openai.ChatCompletionMessageParamUnion{
			openai.UserMessage([]openai.ChatCompletionContentPartUnionParam{openai.ImageContentPart(openai.ChatCompletionContentPartImageImageURLParam{URL: "https://example.com/cat.png"})}),
		}})
		if status(err) != 400 || !strings.Contains(message(err), "gemini") {
			t.Errorf("got %v, want a 400 naming gemini", err)
		}
	})
	t.Run("tool result without a call", func(t *testing.T) {
		_, err := c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "sim-gemini", Tools: geminiTools,
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi"), openai.ToolMessage("21C", "call_nowhere")}})
		if status(err) != 400 || !strings.Contains(message(err), "call_nowhere") {
			t.Errorf("got %v, want a 400 naming the tool_call_id", err)
		}
	})
	t.Run("parallel_tool_calls false", func(t *testing.T) {
		_, err := c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "sim-gemini", Tools: geminiTools, Messages: user,
			ParallelToolCalls: openai.Bool(false)})
		if status(err) != 400 || !strings.Contains(message(err), "parallel_tool_calls") {
			t.Errorf("got %v, want a 400 naming parallel_tool_calls", err)
		}
	})

	for _, tc := range []struct {
		name  string
		fault sim.Fault
		want  int
	}{
		{"upstream 400", sim.Fault{Status: 400, Message: "Invalid value at 'contents'"}, 400},
		{"rate limited", sim.Fault{Status: 429, RetryAfterS: 7}, 429},
		{"server error", sim.Fault{Status: 500}, 502},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := tc.fault
			f.Model, f.Count = "gemini-faults", 1
			e.Sim.AddFault(f)
			var resp *http.Response
			_, err := c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "sim-gemini-faults", Messages: user},
				option.WithResponseInto(&resp))
			if got := status(err); got != tc.want {
				t.Errorf("status %d (%v), want %d", got, err, tc.want)
			}
			if tc.want == 429 && resp.Header.Get("Retry-After") != "7" {
				t.Errorf("Retry-After = %q, want 7", resp.Header.Get("Retry-After"))
			}
		})
	}
	t.Run("unavailable", func(t *testing.T) {
		e.Sim.AddFault(sim.Fault{Model: "gemini-faults", Status: 503, Count: 1})
		_, err := c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "sim-gemini-faults", Messages: user})
		if s := status(err); s != 502 && s != 503 {
			t.Errorf("status %d, want 502 or 503", s)
		}
	})
	t.Run("cut stream", func(t *testing.T) {
		e.Sim.AddFault(sim.Fault{Model: "gemini-faults", CutAfterChunks: 3, Count: 1})
		st := c.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{Model: "sim-gemini-faults", Messages: user})
		for st.Next() {
		}
		if st.Err() == nil {
			t.Error("a cut stream ended without an error")
		}
	})
	t.Run("malformed whole", func(t *testing.T) {
		e.Sim.AddFault(sim.Fault{Model: "gemini-faults", Malformed: true, Count: 1})
		_, err := c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "sim-gemini-faults", Messages: user})
		if s := status(err); s != 502 {
			t.Errorf("status %d (%v), want 502", s, err)
		}
	})
}

// TestGeminiEmbeddingsThroughGateway: one input goes to embedContent,
// several to batchEmbedContents. Gemini reports no usage for embeddings,
// so the gateway meters an offline estimate of the inputs' tokens.
func TestGeminiEmbeddingsThroughGateway(t *testing.T) {
	_, c, _ := startGemini(t)
	ctx := context.Background()
	one, err := c.Embeddings.New(ctx, openai.EmbeddingNewParams{Model: "sim-gemini-embed",
		Input: openai.EmbeddingNewParamsInputUnion{OfString: openai.String("one two")}, Dimensions: openai.Int(16)})
	if err != nil {
		t.Fatal(err)
	}
	if len(one.Data) != 1 || len(one.Data[0].Embedding) != 16 {
		t.Fatalf("data = %+v, want one vector of 16", one.Data)
	}
	// "one two" is two o200k_base tokens.
	if one.Usage.PromptTokens != 2 || one.Usage.TotalTokens != 2 {
		t.Errorf("usage = %+v, want the estimate of 2 input tokens", one.Usage)
	}
	many, err := c.Embeddings.New(ctx, openai.EmbeddingNewParams{Model: "sim-gemini-embed",
		Input: openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: []string{"three", "one two"}}, Dimensions: openai.Int(16)})
	if err != nil {
		t.Fatal(err)
	}
	if len(many.Data) != 2 || many.Data[1].Embedding[5] != one.Data[0].Embedding[5] || many.Data[1].Index != 1 {
		t.Errorf("batch = %d vectors, want 2 with the second equal to the single one", len(many.Data))
	}
	if many.Usage.PromptTokens != 3 {
		t.Errorf("batch usage = %+v, want the estimate of 3 input tokens", many.Usage)
	}
}
