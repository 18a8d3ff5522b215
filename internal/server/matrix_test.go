package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/shared"

	"github.com/causeway-ai/causeway/examples"
	"github.com/causeway-ai/causeway/internal/server"
	"github.com/causeway-ai/causeway/internal/server/servertest"
	"github.com/causeway-ai/causeway/internal/sim"
)

// The shared conformance suite: both front doors × the five provider
// protocols of examples/sim.yaml, every one through the whole gateway to
// the simulator, with the official SDKs as clients. Usage is checked
// exactly against what the simulator says it produced.

// matrixAliases maps each alias of examples/sim.yaml to the upstream model
// name the simulator counts it under.
var matrixAliases = []struct{ alias, upstream string }{
	{"sim-openai", "gpt-4.1-mini"},
	{"sim-azure", "my-mini"},
	{"sim-anthropic", "claude-sonnet-4-5"},
	{"sim-bedrock", "us.amazon.nova-pro-v1:0"},
	{"sim-gemini", "gemini-2.5-flash"},
}

func simExample(t *testing.T) *servertest.Env {
	yml := strings.ReplaceAll(string(examples.Sim()), "${CAUSEWAY_SIM_URL}", "${SIM}")
	return servertest.Start(t, servertest.Options{Config: yml, Sim: sim.Options{APIKey: "sim-key"}})
}

// upstreamDelta runs fn and returns the input and output tokens the
// simulator produced for upstream meanwhile.
func upstreamDelta(e *servertest.Env, upstream string, fn func()) (in, out int64) {
	before := e.Sim.Stats()
	fn()
	after := e.Sim.Stats()
	return after.InputTokens[upstream] - before.InputTokens[upstream], after.OutputTokens[upstream] - before.OutputTokens[upstream]
}

func TestDoorsByProviders(t *testing.T) {
	e := simExample(t)
	_, key := e.CreateKey(t, server.KeyRequest{Name: "matrix"})
	oai := newClient(e.URL, key)
	ant := newAnthropic(e, key)
	ctx := context.Background()
	for _, m := range matrixAliases {
		t.Run("openai-door/"+m.alias, func(t *testing.T) {
			t.Run("whole", func(t *testing.T) {
				var resp *openai.ChatCompletion
				in, out := upstreamDelta(e, m.upstream, func() {
					var err error
					resp, err = oai.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
						Model:    m.alias,
						Messages: []openai.ChatCompletionMessageParamUnion{openai.SystemMessage("Be brief."), openai.UserMessage("Hello")},
					})
					if err != nil {
						t.Fatalf("chat: %v", err)
					}
				})
				if resp.Choices[0].Message.Content == "" || resp.Choices[0].FinishReason != "stop" {
					t.Errorf("choice = %+v", resp.Choices[0])
				}
				if resp.Usage.PromptTokens != in || resp.Usage.CompletionTokens != out || out == 0 {
					t.Errorf("usage %d/%d, simulator %d/%d", resp.Usage.PromptTokens, resp.Usage.CompletionTokens, in, out)
				}
			})
			t.Run("stream", func(t *testing.T) {
				acc := openai.ChatCompletionAccumulator{}
				in, out := upstreamDelta(e, m.upstream, func() {
					st := oai.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{
						Model:         m.alias,
						Messages:      []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Stream, please")},
						StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)},
					})
					for st.Next() {
						acc.AddChunk(st.Current())
					}
					if err := st.Err(); err != nil {
						t.Fatalf("stream: %v", err)
					}
				})
				if acc.Choices[0].Message.Content == "" || acc.Usage.PromptTokens != in || acc.Usage.CompletionTokens != out {
					t.Errorf("content %q usage %d/%d, simulator %d/%d", acc.Choices[0].Message.Content, acc.Usage.PromptTokens, acc.Usage.CompletionTokens, in, out)
				}
			})
			t.Run("tools streamed round trip", func(t *testing.T) {
				params := openai.ChatCompletionNewParams{
					Model:    m.alias,
					Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("What is the weather in Paris?")},
					Tools:    []openai.ChatCompletionToolUnionParam{weatherTool},
				}
				st := oai.Chat.Completions.NewStreaming(ctx, params)
				acc := openai.ChatCompletionAccumulator{}
				for st.Next() {
					acc.AddChunk(st.Current())
				}
				if err := st.Err(); err != nil {
					t.Fatalf("stream: %v", err)
				}
				msg := acc.Choices[0].Message
				if len(msg.ToolCalls) != 1 || !json.Valid([]byte(msg.ToolCalls[0].Function.Arguments)) {
					t.Fatalf("tool calls = %+v", msg.ToolCalls)
				}
				params.Messages = append(params.Messages, msg.ToParam(), openai.ToolMessage("21C and sunny", msg.ToolCalls[0].ID))
				resp, err := oai.Chat.Completions.New(ctx, params)
				if err != nil {
					t.Fatalf("tool result turn: %v", err)
				}
				if got := resp.Choices[0].Message.Content; !strings.Contains(got, "21C and sunny") {
					t.Errorf("answer %q does not use the tool result", got)
				}
			})
			t.Run("json", func(t *testing.T) {
				resp, err := oai.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
					Model:    m.alias,
					Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("A person as JSON")},
					ResponseFormat: openai.ChatCompletionNewParamsResponseFormatUnion{OfJSONSchema: &shared.ResponseFormatJSONSchemaParam{
						JSONSchema: shared.ResponseFormatJSONSchemaJSONSchemaParam{Name: "person", Schema: map[string]any{
							"type": "object", "properties": map[string]any{"name": map[string]any{"type": "string"}}, "required": []string{"name"},
						}},
					}},
				})
				if err != nil {
					t.Fatalf("chat: %v", err)
				}
				var v struct{ Name *string }
				if err := json.Unmarshal([]byte(resp.Choices[0].Message.Content), &v); err != nil || v.Name == nil {
					t.Errorf("content %q is not the schema's JSON", resp.Choices[0].Message.Content)
				}
			})
			t.Run("upstream 429", func(t *testing.T) {
				id := e.Sim.AddFault(sim.Fault{Model: m.upstream, Status: 429, RetryAfterS: 30})
				defer e.Sim.RemoveFault(id)
				_, err := oai.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
					Model: m.alias, Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("x")},
				})
				var apiErr *openai.Error
				if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusTooManyRequests {
					t.Fatalf("error %v, want a 429", err)
				}
			})
		})
		t.Run("anthropic-door/"+m.alias, func(t *testing.T) {
			t.Run("stream", func(t *testing.T) {
				var msg anthropic.Message
				in, out := upstreamDelta(e, m.upstream, func() {
					st := ant.Messages.NewStreaming(ctx, anthropic.MessageNewParams{
						Model: anthropic.Model(m.alias), MaxTokens: 256,
						System:   []anthropic.TextBlockParam{{Text: "Be brief."}},
						Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("Hello from Claude's SDK"))},
					})
					for st.Next() {
						if err := msg.Accumulate(st.Current()); err != nil {
							t.Fatalf("accumulate: %v", err)
						}
					}
					if err := st.Err(); err != nil {
						t.Fatalf("stream: %v", err)
					}
				})
				if textOf(&msg) == "" || msg.StopReason != anthropic.StopReasonEndTurn {
					t.Errorf("message %+v", msg)
				}
				// The door shows input tokens without cache reads/writes.
				got := msg.Usage.InputTokens + msg.Usage.CacheReadInputTokens
				if got != in || msg.Usage.OutputTokens != out || out == 0 {
					t.Errorf("usage %d(+%d cached)/%d, simulator %d/%d", msg.Usage.InputTokens, msg.Usage.CacheReadInputTokens, msg.Usage.OutputTokens, in, out)
				}
			})
			t.Run("tool round trip", func(t *testing.T) {
				user := anthropic.NewUserMessage(anthropic.NewTextBlock("What is the weather in Paris?"))
				first, err := ant.Messages.New(ctx, anthropic.MessageNewParams{
					Model: anthropic.Model(m.alias), MaxTokens: 256, Tools: []anthropic.ToolUnionParam{antWeather},
					Messages: []anthropic.MessageParam{user},
				})
				if err != nil {
					t.Fatalf("messages: %v", err)
				}
				var use *anthropic.ContentBlockUnion
				for i := range first.Content {
					if first.Content[i].Type == "tool_use" {
						use = &first.Content[i]
					}
				}
				if use == nil || first.StopReason != anthropic.StopReasonToolUse {
					t.Fatalf("first turn %+v: want a tool_use", first)
				}
				second, err := ant.Messages.New(ctx, anthropic.MessageNewParams{
					Model: anthropic.Model(m.alias), MaxTokens: 256, Tools: []anthropic.ToolUnionParam{antWeather},
					Messages: []anthropic.MessageParam{user, first.ToParam(),
						anthropic.NewUserMessage(anthropic.NewToolResultBlock(use.ID, "21C and sunny", false))},
				})
				if err != nil {
					t.Fatalf("tool result turn: %v", err)
				}
				if got := textOf(second); !strings.Contains(got, "21C and sunny") {
					t.Errorf("answer %q does not use the tool result", got)
				}
			})
			t.Run("upstream failure", func(t *testing.T) {
				id := e.Sim.AddFault(sim.Fault{Model: m.upstream, Status: 500})
				defer e.Sim.RemoveFault(id)
				_, err := ant.Messages.New(ctx, anthropic.MessageNewParams{
					Model: anthropic.Model(m.alias), MaxTokens: 64,
					Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("x"))},
				})
				var apiErr *anthropic.Error
				if !errors.As(err, &apiErr) || apiErr.StatusCode < 500 {
					t.Fatalf("error %v, want a 5xx in Anthropic's shape", err)
				}
			})
		})
	}
}

// TestImageTooLargeForTarget: an inline image beyond what the target takes
// is refused with a 400 that says so, before it goes upstream.
func TestImageTooLargeForTarget(t *testing.T) {
	e := simExample(t)
	_, key := e.CreateKey(t, server.KeyRequest{Name: "img"})
	big := "data:image/png;base64," + strings.Repeat("A", 7<<20) // ~5.3 MB decoded, under the 8 MiB body limit
	body := `{"model":"%s","messages":[{"role":"user","content":[{"type":"text","text":"what is this?"},{"type":"image_url","image_url":{"url":"` + big + `"}}]}]}`
	for _, m := range []struct{ alias, upstream string }{{"sim-anthropic", "claude-sonnet-4-5"}, {"sim-bedrock", "us.amazon.nova-pro-v1:0"}} {
		status, _, b := e.Post(t, key, "/v1/chat/completions", strings.Replace(body, "%s", m.alias, 1))
		if status != 400 {
			t.Fatalf("%s: status %d, want 400: %.300s", m.alias, status, b)
		}
		if eb := decodeError(t, b); !strings.Contains(eb.Error.Message, "at most") {
			t.Errorf("%s: message %q does not give the limit", m.alias, eb.Error.Message)
		}
		if got := e.Sim.Stats().Requests[m.upstream]; got != 0 {
			t.Errorf("%s: the image went upstream (%d requests)", m.alias, got)
		}
	}
}
