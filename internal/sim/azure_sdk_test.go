package sim

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/azure"
	"github.com/openai/openai-go/v3/option"
)

// The openai-go SDK's own Azure options (deployment URLs, api-version,
// api-key header) against the simulator.
func TestAzureSDKOptions(t *testing.T) {
	srv := httptest.NewServer(New(Options{APIKey: "sim-key"}))
	defer srv.Close()
	c := openai.NewClient(
		azure.WithEndpoint(srv.URL, "2024-10-21"),
		azure.WithAPIKey("sim-key"),
		azure.WithUnsafeAllowHTTP(),
		option.WithMaxRetries(0),
	)
	resp, err := c.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
		Model:    "my-mini", // the deployment
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Hello, Azure")},
	})
	if err != nil {
		t.Fatalf("chat: %v", err)
	}
	if resp.Choices[0].Message.Content == "" || resp.Usage.CompletionTokens == 0 {
		t.Fatalf("response %+v", resp)
	}
	st := c.Chat.Completions.NewStreaming(context.Background(), openai.ChatCompletionNewParams{
		Model:         "my-mini",
		Messages:      []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Stream, Azure")},
		StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)},
	})
	acc := openai.ChatCompletionAccumulator{}
	for st.Next() {
		acc.AddChunk(st.Current())
	}
	if err := st.Err(); err != nil {
		t.Fatalf("stream: %v", err)
	}
	if acc.Choices[0].Message.Content == "" || acc.Usage.CompletionTokens == 0 {
		t.Fatalf("accumulated %+v", acc.ChatCompletion)
	}
	if got := New(Options{}).Stats().Requests["my-mini"]; got != 0 {
		t.Fatal("stats leaked between simulators")
	}
}
