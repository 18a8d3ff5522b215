package server_test

import (
	"context"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/conversations"
	"github.com/openai/openai-go/v3/responses"

	"github.com/causeway-ai/causeway/internal/server"
)

// TestConversationAcrossProviders: a conversation started on one provider
// continues on two others with the same history — the state is Causeway's,
// not a provider's. Each turn's input tokens, as the simulator counted them
// upstream, grow with the history the runtime replayed to that provider.
func TestConversationAcrossProviders(t *testing.T) {
	e := simExample(t)
	_, key := e.CreateKey(t, server.KeyRequest{Name: "portable", User: "alice"})
	c := newClient(e.URL, key)
	ctx := context.Background()
	conv, err := c.Conversations.New(ctx, conversations.ConversationNewParams{})
	if err != nil {
		t.Fatalf("create conversation: %v", err)
	}
	ref := responses.ResponseNewParamsConversationUnion{OfString: openai.String(conv.ID)}
	var lastIn int64
	var texts []string
	for i, m := range []struct{ alias, upstream string }{
		{"sim-anthropic", "claude-sonnet-4-5"},
		{"sim-bedrock", "us.amazon.nova-pro-v1:0"},
		{"sim-openai", "gpt-4.1-mini"},
		{"sim-gemini", "gemini-2.5-flash"},
	} {
		var resp *responses.Response
		in, _ := upstreamDelta(e, m.upstream, func() {
			resp, err = c.Responses.New(ctx, responses.ResponseNewParams{
				Model: m.alias, Conversation: ref,
				Input: textInput("Turn " + string(rune('A'+i)) + ": tell me more about the bridge"),
			})
			if err != nil {
				t.Fatalf("turn %d on %s: %v", i, m.alias, err)
			}
		})
		if resp.OutputText() == "" || resp.Model != m.alias {
			t.Fatalf("turn %d on %s: %+v", i, m.alias, resp)
		}
		if in <= lastIn {
			t.Errorf("turn %d on %s: upstream input tokens %d ≤ previous turn's %d: history not carried", i, m.alias, in, lastIn)
		}
		lastIn = in
		texts = append(texts, resp.OutputText())
	}
	items, err := c.Conversations.Items.List(ctx, conv.ID, conversations.ItemListParams{Order: conversations.ItemListParamsOrderAsc, Limit: openai.Int(100)})
	if err != nil {
		t.Fatalf("items: %v", err)
	}
	if len(items.Data) != 8 {
		t.Fatalf("conversation holds %d items, want 8 (4 turns × user and assistant)", len(items.Data))
	}
	// Every provider's answer is in the shared history, in order.
	var got []string
	for _, it := range items.Data {
		if it.Role == "assistant" {
			var b strings.Builder
			for _, c := range it.AsMessage().Content {
				b.WriteString(c.Text)
			}
			got = append(got, b.String())
		}
	}
	if strings.Join(got, "|") != strings.Join(texts, "|") {
		t.Fatalf("assistant items %q, want the four answers %q", got, texts)
	}
}
