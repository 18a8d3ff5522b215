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
	"github.com/tidwall/gjson"

	"github.com/causeway-ai/causeway/internal/server"
	"github.com/causeway-ai/causeway/internal/server/servertest"
	"github.com/causeway-ai/causeway/internal/sim"
)

// azureConfig routes the sim-azure aliases to the simulator's Azure
// OpenAI routes: the deployment route on the default api-version, the v1
// surface, an Entra bearer token, an old api-version (no stream_options,
// max_tokens), and an api-version the resource does not support.
const azureConfig = `
log: {level: warn, requests: false}
metering: {flush_interval: 20ms, drain_timeout: 10s}
providers:
  - name: azure
    type: azure
    base_url: ${SIM}
    api_key: azure-key
    timeouts: {first_token: 5s, idle: 5s}
  - name: azure-v1
    type: azure
    base_url: ${SIM}/openai
    api_key: azure-key
    api_version: v1
  - name: azure-entra
    type: azure
    base_url: ${SIM}
    auth: entra
    api_key: azure-key
  - name: azure-old
    type: azure
    base_url: ${SIM}
    api_key: azure-key
    api_version: "2024-06-01"
  - name: azure-bad-version
    type: azure
    base_url: ${SIM}
    api_key: azure-key
    api_version: "2023-01-01"
models:
  - alias: sim-azure
    targets: [{provider: azure, model: gpt-4.1-mini, deployment: my-mini, price: {input_per_mtok: 0.40, output_per_mtok: 1.60, cached_input_per_mtok: 0.10}}]
  - alias: sim-azure-v1
    targets: [{provider: azure-v1, model: gpt-4.1-mini, deployment: my-v1, price: {input_per_mtok: 0.40, output_per_mtok: 1.60}}]
  - alias: sim-azure-entra
    targets: [{provider: azure-entra, model: gpt-4.1-mini, deployment: my-entra, price: {input_per_mtok: 0.40, output_per_mtok: 1.60}}]
  - alias: sim-azure-old
    targets: [{provider: azure-old, model: gpt-4.1-mini, deployment: my-old, price: {input_per_mtok: 0.40, output_per_mtok: 1.60}}]
  - alias: sim-azure-bad-version
    targets: [{provider: azure-bad-version, model: gpt-4.1-mini, deployment: my-bad, price: {input_per_mtok: 0.40, output_per_mtok: 1.60}}]
    retry: {max_attempts: 1}
  - alias: sim-azure-faults
    targets: [{provider: azure, model: gpt-4.1-mini, deployment: my-faults, price: {input_per_mtok: 0.40, output_per_mtok: 1.60}}]
    retry: {max_attempts: 1}
    health: {consecutive_failures: 100}
  - alias: sim-azure-embed
    targets: [{provider: azure, model: text-embedding-3-small, deployment: my-embed, price: {input_per_mtok: 0.02, output_per_mtok: 0}}]
`

func startAzure(t *testing.T) (*servertest.Env, openai.Client, string) {
	t.Helper()
	e := servertest.Start(t, servertest.Options{Config: azureConfig, Sim: sim.Options{APIKey: "azure-key"}})
	id, key := e.CreateKey(t, server.KeyRequest{Name: "azure"})
	return e, openai.NewClient(option.WithBaseURL(e.URL+"/v1/"), option.WithAPIKey(key), option.WithMaxRetries(0)), id
}

type azureStreamed struct {
	acc       openai.ChatCompletionAccumulator
	chunks    []string
	argChunks int
}

func azureStream(t *testing.T, c openai.Client, p openai.ChatCompletionNewParams) azureStreamed {
	t.Helper()
	st := c.Chat.Completions.NewStreaming(context.Background(), p)
	defer st.Close()
	var r azureStreamed
	for st.Next() {
		ch := st.Current()
		r.acc.AddChunk(ch)
		r.chunks = append(r.chunks, ch.RawJSON())
		for _, c := range ch.Choices {
			for _, tc := range c.Delta.ToolCalls {
				if tc.Function.Arguments != "" {
					r.argChunks++
				}
			}
		}
	}
	if err := st.Err(); err != nil {
		t.Fatalf("stream: %v", err)
	}
	return r
}

// TestAzureThroughGateway drives the gateway with the OpenAI SDK to the
// Azure provider, and checks that the usage the gateway recorded is
// exactly what the simulator counted for the deployment.
func TestAzureThroughGateway(t *testing.T) {
	e, c, keyID := startAzure(t)
	ctx := context.Background()

	var whole *openai.ChatCompletion
	t.Run("whole with system prompt and filter results", func(t *testing.T) {
		resp, err := c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
			Model:    "sim-azure",
			Messages: []openai.ChatCompletionMessageParamUnion{openai.SystemMessage("Be brief."), openai.UserMessage("Hello there")},
		})
		if err != nil {
			t.Fatalf("chat: %v", err)
		}
		whole = resp
		if len(resp.Choices) != 1 || resp.Choices[0].Message.Content == "" || resp.Choices[0].FinishReason != "stop" {
			t.Fatalf("choices = %+v, want one stopped with content", resp.Choices)
		}
		if resp.Usage.PromptTokens != 4+2+4+2 || resp.Model != "sim-azure" {
			t.Errorf("usage %+v, model %q", resp.Usage, resp.Model)
		}
		raw := resp.RawJSON()
		if gjson.Get(raw, "prompt_filter_results.0.content_filter_results.jailbreak.detected").Type != gjson.False ||
			gjson.Get(raw, "choices.0.content_filter_results.violence.severity").String() != "safe" {
			t.Errorf("Azure's filter results are not in the answer: %s", raw)
		}
	})

	t.Run("streamed with filter results", func(t *testing.T) {
		r := azureStream(t, c, openai.ChatCompletionNewParams{
			Model:         "sim-azure",
			Messages:      []openai.ChatCompletionMessageParamUnion{openai.SystemMessage("Be brief."), openai.UserMessage("Hello there")},
			StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)},
		})
		if whole != nil && r.acc.Choices[0].Message.Content != whole.Choices[0].Message.Content {
			t.Errorf("streamed %q, want the whole answer %q", r.acc.Choices[0].Message.Content, whole.Choices[0].Message.Content)
		}
		if r.acc.Choices[0].FinishReason != "stop" || r.acc.Usage.PromptTokens != 12 || r.acc.Usage.CompletionTokens < 20 {
			t.Errorf("finish %q, usage %+v", r.acc.Choices[0].FinishReason, r.acc.Usage)
		}
		if !gjson.Get(r.chunks[0], "prompt_filter_results").IsArray() || len(gjson.Get(r.chunks[0], "choices").Array()) != 0 {
			t.Errorf("first chunk %s, want the prompt's filter results", r.chunks[0])
		}
		filtered := 0
		for _, ch := range r.chunks {
			if gjson.Get(ch, "choices.0.content_filter_results.hate.severity").String() == "safe" {
				filtered++
			}
		}
		if int64(filtered) != r.acc.Usage.CompletionTokens {
			t.Errorf("%d chunks carry content filter results, want one per token (%d)", filtered, r.acc.Usage.CompletionTokens)
		}
	})

	t.Run("multi-turn with an image", func(t *testing.T) {
		resp, err := c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
			Model: "sim-azure",
			Messages: []openai.ChatCompletionMessageParamUnion{
				openai.UserMessage("Hi"), openai.AssistantMessage("Hello, how can I help?"),
				openai.UserMessage([]openai.ChatCompletionContentPartUnionParam{
					openai.TextContentPart("Describe this"),
					openai.ImageContentPart(openai.ChatCompletionContentPartImageImageURLParam{URL: "data:image/png;base64,iVBORw0KGgo="}),
				}),
			},
			MaxCompletionTokens: openai.Int(3),
		})
		if err != nil {
			t.Fatalf("chat: %v", err)
		}
		// 3 × 4 + "Hi" + "Hello, how can I help?" (5) + "Describe this" (2).
		if resp.Usage.PromptTokens != 12+1+5+2 || resp.Usage.CompletionTokens != 3 || resp.Choices[0].FinishReason != "length" {
			t.Errorf("usage %+v, finish %q", resp.Usage, resp.Choices[0].FinishReason)
		}
	})

	t.Run("tool round trip", func(t *testing.T) {
		msgs := []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Weather in Paris?")}
		tools := []openai.ChatCompletionToolUnionParam{weatherTool, timeTool}
		r := azureStream(t, c, openai.ChatCompletionNewParams{Model: "sim-azure", Messages: msgs, Tools: tools})
		calls := r.acc.Choices[0].Message.ToolCalls
		if len(calls) != 1 || calls[0].Function.Name != "get_weather" || calls[0].ID == "" || r.acc.Choices[0].FinishReason != "tool_calls" {
			t.Fatalf("calls = %+v, finish %q; want one get_weather call", calls, r.acc.Choices[0].FinishReason)
		}
		if r.argChunks < 2 || !json.Valid([]byte(calls[0].Function.Arguments)) {
			t.Errorf("arguments %q in %d deltas, want valid JSON streamed in pieces", calls[0].Function.Arguments, r.argChunks)
		}
		msgs = append(msgs, r.acc.Choices[0].Message.ToParam(), openai.ToolMessage("21C and sunny", calls[0].ID))
		resp, err := c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "sim-azure", Messages: msgs, Tools: tools})
		if err != nil {
			t.Fatalf("after the tool: %v", err)
		}
		if got, want := resp.Choices[0].Message.Content, "The tool returned: 21C and sunny."; got != want {
			t.Errorf("answer %q, want %q", got, want)
		}
	})

	t.Run("json schema", func(t *testing.T) {
		resp, err := c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
			Model:    "sim-azure",
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("A person")},
			ResponseFormat: openai.ChatCompletionNewParamsResponseFormatUnion{OfJSONSchema: &shared.ResponseFormatJSONSchemaParam{
				JSONSchema: shared.ResponseFormatJSONSchemaJSONSchemaParam{Name: "person", Strict: openai.Bool(true), Schema: map[string]any{
					"type": "object", "additionalProperties": false, "required": []string{"name", "age"},
					"properties": map[string]any{"name": map[string]any{"type": "string"}, "age": map[string]any{"type": "integer"}},
				}},
			}},
		})
		if err != nil {
			t.Fatalf("chat: %v", err)
		}
		var p struct {
			Name *string `json:"name"`
			Age  *int    `json:"age"`
		}
		if err := json.Unmarshal([]byte(resp.Choices[0].Message.Content), &p); err != nil || p.Name == nil || p.Age == nil {
			t.Errorf("content %q (%v), want a person", resp.Choices[0].Message.Content, err)
		}
	})

	t.Run("usage exactness", func(t *testing.T) {
		// Every request of this test so far went to deployment my-mini
		// with this key.
		st := e.Sim.Stats()
		servertest.WaitFor(t, "the gateway's usage to match the simulator's", func() bool {
			u := e.Usage(t, "key_id="+keyID)
			return u.Requests == st.Requests["my-mini"] && u.InputTokens == st.InputTokens["my-mini"] && u.OutputTokens == st.OutputTokens["my-mini"]
		})
		if st.Requests["my-mini"] != 6 || st.Completed["my-mini"] != 6 {
			t.Errorf("simulator stats %+v, want 6 requests to my-mini", st)
		}
	})
}

func TestAzureSurfacesAndAuth(t *testing.T) {
	e, c, _ := startAzure(t)
	ctx := context.Background()
	msgs := []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Hello")}
	for _, alias := range []string{"sim-azure-v1", "sim-azure-entra", "sim-azure-old"} {
		t.Run(alias, func(t *testing.T) {
			resp, err := c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: alias, Messages: msgs, MaxCompletionTokens: openai.Int(2)})
			if err != nil {
				t.Fatalf("whole: %v", err)
			}
			if resp.Choices[0].FinishReason != "length" || resp.Usage.CompletionTokens != 2 {
				t.Errorf("finish %q, usage %+v", resp.Choices[0].FinishReason, resp.Usage)
			}
			r := azureStream(t, c, openai.ChatCompletionNewParams{Model: alias, Messages: msgs,
				StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}})
			// 2024-06-01 takes no stream_options (the simulator refuses
			// it, as Azure did), so its streams carry no usage: the
			// gateway meters an estimate instead.
			wantUsage := alias != "sim-azure-old"
			if r.acc.Choices[0].Message.Content == "" || (r.acc.Usage.CompletionTokens > 0) != wantUsage {
				t.Errorf("stream: content %q, usage %+v (want usage: %t)", r.acc.Choices[0].Message.Content, r.acc.Usage, wantUsage)
			}
		})
	}
	st := e.Sim.Stats()
	for _, d := range []string{"my-v1", "my-entra", "my-old"} {
		if st.Completed[d] != 2 {
			t.Errorf("stats for deployment %s = %d completed, want 2 (%+v)", d, st.Completed[d], st)
		}
	}

	t.Run("embeddings", func(t *testing.T) {
		resp, err := c.Embeddings.New(ctx, openai.EmbeddingNewParams{
			Model: "sim-azure-embed",
			Input: openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: []string{"one two", "three"}},
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.Data) != 2 || len(resp.Data[1].Embedding) != 1536 || resp.Usage.PromptTokens != 3 {
			t.Errorf("embeddings: %d vectors, usage %+v", len(resp.Data), resp.Usage)
		}
		if st := e.Sim.Stats(); st.InputTokens["my-embed"] != 3 {
			t.Errorf("stats = %+v", st)
		}
	})
}

func azureAPIError(t *testing.T, err error, status int) *openai.Error {
	t.Helper()
	apiErr, ok := errors.AsType[*openai.Error](err)
	if !ok || apiErr.StatusCode != status {
		t.Fatalf("err = %v, want an API error with status %d", err, status)
	}
	return apiErr
}

func TestAzureErrors(t *testing.T) {
	e, c, _ := startAzure(t)
	ctx := context.Background()
	msgs := []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Hello")}

	t.Run("api-version the resource does not support", func(t *testing.T) {
		_, err := c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "sim-azure-bad-version", Messages: msgs})
		ae := azureAPIError(t, err, http.StatusBadGateway)
		if !strings.Contains(ae.Message, "API version not supported") || !strings.Contains(ae.Message, `api_version "2023-01-01"`) {
			t.Errorf("message %q does not say the api_version is the problem", ae.Message)
		}
	})

	t.Run("rate limited", func(t *testing.T) {
		addFault(t, e, sim.Fault{Model: "my-faults", Status: 429, RetryAfterS: 30, Probability: 1})
		_, err := c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "sim-azure-faults", Messages: msgs})
		ae := azureAPIError(t, err, http.StatusTooManyRequests)
		if ae.Response.Header.Get("Retry-After") != "30" {
			t.Errorf("Retry-After = %q, want 30", ae.Response.Header.Get("Retry-After"))
		}
	})

	t.Run("server error", func(t *testing.T) {
		addFault(t, e, sim.Fault{Model: "my-faults", Status: 500, Probability: 1})
		st := c.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{Model: "sim-azure-faults", Messages: msgs})
		for st.Next() {
		}
		azureAPIError(t, st.Err(), http.StatusBadGateway)
	})

	t.Run("content filter", func(t *testing.T) {
		_, err := c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "sim-azure",
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("please causeway-sim-filter this")}})
		ae := azureAPIError(t, err, http.StatusBadRequest)
		if ae.Code != "content_filter" || ae.Param != "prompt" || !strings.Contains(ae.Message, "content management policy") {
			t.Errorf("error %s, want Azure's content filter refusal", ae.RawJSON())
		}
	})

	t.Run("cut stream", func(t *testing.T) {
		addFault(t, e, sim.Fault{Model: "my-faults", CutAfterChunks: 5, Probability: 1})
		st := c.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{Model: "sim-azure-faults", Messages: msgs})
		n := 0
		for st.Next() {
			n++
		}
		if st.Err() == nil {
			t.Errorf("a cut stream ended cleanly after %d chunks", n)
		}
	})
}
