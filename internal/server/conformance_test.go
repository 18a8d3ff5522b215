package server_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/shared"

	"github.com/causeway-ai/causeway/internal/server"
	"github.com/causeway-ai/causeway/internal/server/servertest"
)

// target is somewhere the official SDK can be pointed: the gateway, or the
// simulator directly. The same suite runs against both, so the gateway is
// held to what the upstream itself does.
type target struct {
	name   string
	client openai.Client
	chat   string // model to ask for
	embed  string
}

func newClient(base, key string) openai.Client {
	return openai.NewClient(option.WithBaseURL(base+"/v1/"), option.WithAPIKey(key), option.WithMaxRetries(0))
}

func targets(t *testing.T, kind string) []target {
	e := servertest.Start(t, servertest.Options{Store: kind})
	_, key := e.CreateKey(t, server.KeyRequest{Name: "conformance"})
	return []target{
		{name: "gateway", client: newClient(e.URL, key), chat: "sim-openai", embed: "sim-embed"},
		{name: "sim", client: newClient(e.SimURL, "any"), chat: "gpt-4.1-mini", embed: "text-embedding-3-small"},
	}
}

var weatherTool = openai.ChatCompletionFunctionTool(shared.FunctionDefinitionParam{
	Name:        "get_weather",
	Description: openai.String("Weather for a city"),
	Parameters: shared.FunctionParameters{
		"type": "object",
		"properties": map[string]any{
			"city":  map[string]any{"type": "string"},
			"days":  map[string]any{"type": "integer"},
			"units": map[string]any{"type": "string", "enum": []string{"celsius", "fahrenheit"}},
		},
		"required": []string{"city"},
	},
})

var timeTool = openai.ChatCompletionFunctionTool(shared.FunctionDefinitionParam{
	Name:       "get_time",
	Parameters: shared.FunctionParameters{"type": "object", "properties": map[string]any{"zone": map[string]any{"type": "string"}}},
})

func TestConformance(t *testing.T) {
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			for _, tg := range targets(t, kind) {
				t.Run(tg.name, func(t *testing.T) { conformance(t, tg) })
			}
		})
	}
}

func conformance(t *testing.T, tg target) {
	ctx := context.Background()
	c := tg.client

	t.Run("whole", func(t *testing.T) {
		resp, err := c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
			Model:    tg.chat,
			Messages: []openai.ChatCompletionMessageParamUnion{openai.SystemMessage("Be brief."), openai.UserMessage("Hello there")},
		})
		if err != nil {
			t.Fatalf("chat: %v", err)
		}
		if len(resp.Choices) != 1 || resp.Choices[0].Message.Content == "" {
			t.Fatalf("choices = %+v, want one with content", resp.Choices)
		}
		if resp.Choices[0].FinishReason != "stop" {
			t.Errorf("finish_reason = %q, want stop", resp.Choices[0].FinishReason)
		}
		if resp.Usage.PromptTokens == 0 || resp.Usage.CompletionTokens == 0 || resp.Usage.TotalTokens != resp.Usage.PromptTokens+resp.Usage.CompletionTokens {
			t.Errorf("usage = %+v, want positive and consistent", resp.Usage)
		}
		if resp.Model != tg.chat {
			t.Errorf("model = %q, want %q", resp.Model, tg.chat)
		}
	})

	t.Run("multipart and max tokens", func(t *testing.T) {
		resp, err := c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
			Model: tg.chat,
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage([]openai.ChatCompletionContentPartUnionParam{
				openai.TextContentPart("Describe"), openai.ImageContentPart(openai.ChatCompletionContentPartImageImageURLParam{URL: "data:image/png;base64,iVBORw0KGgo="}),
			})},
			MaxCompletionTokens: openai.Int(3),
			Temperature:         openai.Float(0.2),
			Seed:                openai.Int(7),
			User:                openai.String("end-user-1"),
			Stop:                openai.ChatCompletionNewParamsStopUnion{OfStringArray: []string{"\n\n"}},
		})
		if err != nil {
			t.Fatalf("chat: %v", err)
		}
		if got := resp.Usage.CompletionTokens; got != 3 {
			t.Errorf("completion_tokens = %d, want 3", got)
		}
		if resp.Choices[0].FinishReason != "length" {
			t.Errorf("finish_reason = %q, want length", resp.Choices[0].FinishReason)
		}
	})

	t.Run("stream", func(t *testing.T) {
		st := c.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{
			Model:         tg.chat,
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
		if acc.Choices[0].Message.Content == "" {
			t.Fatal("stream produced no content")
		}
		if acc.Usage.CompletionTokens != contentChunks {
			t.Errorf("usage.completion_tokens = %d, want %d (one per content chunk)", acc.Usage.CompletionTokens, contentChunks)
		}
		if acc.Choices[0].FinishReason != "stop" {
			t.Errorf("finish_reason = %q, want stop", acc.Choices[0].FinishReason)
		}
	})

	t.Run("stream without usage", func(t *testing.T) {
		st := c.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{
			Model:    tg.chat,
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("No usage please")},
		})
		for st.Next() {
			if u := st.Current().Usage; u.TotalTokens != 0 {
				t.Errorf("got a usage chunk %+v without include_usage", u)
			}
		}
		if err := st.Err(); err != nil {
			t.Fatalf("stream: %v", err)
		}
	})

	toolRoundTrip := func(t *testing.T, stream bool) {
		params := openai.ChatCompletionNewParams{
			Model:    tg.chat,
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("What is the weather in Paris?")},
			Tools:    []openai.ChatCompletionToolUnionParam{weatherTool},
		}
		var msg openai.ChatCompletionMessage
		var finish string
		if stream {
			st := c.Chat.Completions.NewStreaming(ctx, params)
			acc := openai.ChatCompletionAccumulator{}
			for st.Next() {
				acc.AddChunk(st.Current())
			}
			if err := st.Err(); err != nil {
				t.Fatalf("stream: %v", err)
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
		if tc.Function.Name != "get_weather" || tc.ID == "" {
			t.Fatalf("tool call = %+v, want get_weather with an id", tc)
		}
		var args map[string]any
		if err := json.Unmarshal([]byte(tc.Function.Arguments), &args); err != nil {
			t.Fatalf("arguments %q are not JSON: %v", tc.Function.Arguments, err)
		}
		if _, ok := args["city"].(string); !ok {
			t.Errorf("arguments %v: city is not a string", args)
		}
		if d, ok := args["days"].(float64); !ok || d != float64(int64(d)) {
			t.Errorf("arguments %v: days is not an integer", args)
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

	t.Run("parallel tool calls", func(t *testing.T) {
		resp, err := c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
			Model:    tg.chat,
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Use both tools in parallel")},
			Tools:    []openai.ChatCompletionToolUnionParam{weatherTool, timeTool},
		})
		if err != nil {
			t.Fatalf("chat: %v", err)
		}
		if n := len(resp.Choices[0].Message.ToolCalls); n != 2 {
			t.Fatalf("tool calls = %d, want 2", n)
		}
	})

	t.Run("forced tool choice", func(t *testing.T) {
		resp, err := c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
			Model:      tg.chat,
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

	t.Run("json object", func(t *testing.T) {
		resp, err := c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
			Model:          tg.chat,
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

	t.Run("json schema", func(t *testing.T) {
		resp, err := c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
			Model:    tg.chat,
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("A person, please")},
			ResponseFormat: openai.ChatCompletionNewParamsResponseFormatUnion{OfJSONSchema: &shared.ResponseFormatJSONSchemaParam{
				JSONSchema: shared.ResponseFormatJSONSchemaJSONSchemaParam{
					Name:   "person",
					Strict: openai.Bool(true),
					Schema: map[string]any{
						"type":                 "object",
						"properties":           map[string]any{"name": map[string]any{"type": "string"}, "age": map[string]any{"type": "integer"}},
						"required":             []string{"name", "age"},
						"additionalProperties": false,
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

	t.Run("embeddings", func(t *testing.T) {
		resp, err := c.Embeddings.New(ctx, openai.EmbeddingNewParams{
			Model:      tg.embed,
			Input:      openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: []string{"alpha", "beta"}},
			Dimensions: openai.Int(64),
		})
		if err != nil {
			t.Fatalf("embeddings: %v", err)
		}
		if len(resp.Data) != 2 || len(resp.Data[0].Embedding) != 64 {
			t.Fatalf("got %d vectors of %d dims, want 2 of 64", len(resp.Data), len(resp.Data[0].Embedding))
		}
		if resp.Usage.PromptTokens == 0 {
			t.Errorf("usage.prompt_tokens = 0")
		}
		// The SDK asks for base64 by default and decodes it; ask for floats
		// too and compare.
		resp2, err := c.Embeddings.New(ctx, openai.EmbeddingNewParams{
			Model: tg.embed, Input: openai.EmbeddingNewParamsInputUnion{OfString: openai.String("alpha")},
			Dimensions: openai.Int(64), EncodingFormat: openai.EmbeddingNewParamsEncodingFormatFloat,
		})
		if err != nil {
			t.Fatalf("embeddings float: %v", err)
		}
		for i := range resp2.Data[0].Embedding {
			if a, b := resp2.Data[0].Embedding[i], resp.Data[0].Embedding[i]; float32(a) != float32(b) {
				t.Fatalf("float and base64 vectors differ at %d: %v vs %v", i, a, b)
			}
		}
	})

	t.Run("models", func(t *testing.T) {
		page, err := c.Models.List(ctx)
		if err != nil {
			t.Fatalf("models: %v", err)
		}
		found := false
		for _, m := range page.Data {
			found = found || m.ID == tg.chat
		}
		if !found && tg.name == "gateway" {
			t.Errorf("models list lacks %s", tg.chat)
		}
		m, err := c.Models.Get(ctx, tg.chat)
		if err != nil || m.ID != tg.chat {
			t.Fatalf("model get = %+v, %v; want %s", m, err, tg.chat)
		}
	})
}
