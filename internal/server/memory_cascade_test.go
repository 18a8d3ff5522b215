package server_test

import (
	"context"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/conversations"
	"github.com/openai/openai-go/v3/responses"

	"github.com/causeway-ai/causeway/internal/memory"
	"github.com/causeway-ai/causeway/internal/runtime"
)

// TestDeleteConversationCascade: DELETE /v1/conversations/{id} deletes
// the conversation, its items, the responses made in it with their items
// and stored events, and the memories linked to it; it answers OpenAI's
// conversation.deleted with a receipt whose counts are exact; nothing
// else of the caller's, and nothing of anyone else's, goes.
func TestDeleteConversationCascade(t *testing.T) {
	forStores(t, func(t *testing.T, kind string) {
		env := startMemories(t, kind)
		ctx := context.Background()
		type seeded struct {
			conv, outside, linked, unlinked string
			inConv                          []string
			streamed                        string
		}
		seed := func(c openai.Client) seeded {
			t.Helper()
			var s seeded
			conv, err := c.Conversations.New(ctx, conversations.ConversationNewParams{
				Items: []responses.ResponseInputItemUnionParam{responses.ResponseInputItemParamOfMessage("Be brief.", responses.EasyInputMessageRoleDeveloper)}})
			if err != nil {
				t.Fatalf("conversation: %v", err)
			}
			s.conv = conv.ID
			inConv := responses.ResponseNewParamsConversationUnion{OfString: openai.String(conv.ID)}
			r1, err := c.Responses.New(ctx, responses.ResponseNewParams{Model: "sim-openai", Input: textInput("First turn"), Conversation: inConv})
			if err != nil {
				t.Fatalf("response: %v", err)
			}
			st := c.Responses.NewStreaming(ctx, responses.ResponseNewParams{Model: "sim-openai", Input: textInput("Second turn, streamed"), Conversation: inConv})
			for st.Next() {
				if ev := st.Current(); ev.Type == "response.completed" {
					s.streamed = ev.Response.ID
				}
			}
			if err := st.Err(); err != nil || s.streamed == "" {
				t.Fatalf("stream: %v (id %q)", err, s.streamed)
			}
			s.inConv = []string{r1.ID, s.streamed}
			out, err := c.Responses.New(ctx, responses.ResponseNewParams{Model: "sim-openai", Input: textInput("Elsewhere")})
			if err != nil {
				t.Fatalf("response: %v", err)
			}
			s.outside = out.ID
			linked := createMemory(t, c, map[string]any{"text": "likes tea", "conversation_id": conv.ID})
			if linked.ConversationID == nil || *linked.ConversationID != conv.ID {
				t.Errorf("linked memory conversation_id = %v, want %s", linked.ConversationID, conv.ID)
			}
			s.linked = linked.ID
			s.unlinked = createMemory(t, c, map[string]any{"text": "lives in Oslo"}).ID
			return s
		}
		a := seed(env.alice)
		b := seed(env.bob)

		// Another user can neither link a memory to alice's
		// conversation nor delete it.
		var rec memory.Record
		if err := env.bob.Post(ctx, "memories", map[string]any{"text": "x", "conversation_id": a.conv}, &rec); oaiStatus(err) != 404 {
			t.Errorf("bob links a memory to alice's conversation: %v, want 404", err)
		}
		for name, c := range map[string]openai.Client{"bob": env.bob, "t2 alice": env.alt2} {
			if _, err := c.Conversations.Delete(ctx, a.conv); oaiStatus(err) != 404 {
				t.Errorf("%s deletes alice's conversation: %v, want 404", name, err)
			}
		}

		want := stateCounts(t, env.alice, a.inConv, a.streamed, a.conv)
		want.Memories = 1
		var del runtime.ConversationDeleted
		if err := env.alice.Delete(ctx, "conversations/"+a.conv, nil, &del); err != nil {
			t.Fatalf("delete conversation: %v", err)
		}
		if del.ID != a.conv || del.Object != "conversation.deleted" || !del.Deleted.Deleted {
			t.Errorf("delete = %+v, want OpenAI's conversation.deleted", del)
		}
		if del.Receipt.Object != "conversation.deletion_receipt" || del.Receipt.At == 0 || del.Receipt.Deleted != want {
			t.Errorf("receipt = %+v, want deleted %+v", del.Receipt, want)
		}

		// Nothing of it is left.
		for _, id := range a.inConv {
			if _, err := env.alice.Responses.Get(ctx, id, responses.ResponseGetParams{}); oaiStatus(err) != 404 {
				t.Errorf("response %s made in the deleted conversation: %v, want 404", id, err)
			}
		}
		var got memory.Record
		if err := env.alice.Get(ctx, "memories/"+a.linked, nil, &got); oaiStatus(err) != 404 {
			t.Errorf("linked memory after delete: %v, want 404", err)
		}
		if _, err := env.alice.Conversations.Delete(ctx, a.conv); oaiStatus(err) != 404 {
			t.Errorf("second delete: %v, want 404", err)
		}
		// What was not in it stays, and bob's is untouched.
		if _, err := env.alice.Responses.Get(ctx, a.outside, responses.ResponseGetParams{}); err != nil {
			t.Errorf("response outside the conversation: %v", err)
		}
		if err := env.alice.Get(ctx, "memories/"+a.unlinked, nil, &got); err != nil {
			t.Errorf("unlinked memory: %v", err)
		}
		bobWant := stateCounts(t, env.bob, b.inConv, b.streamed, b.conv)
		if bobWant.Responses != 2 || bobWant.Events == 0 {
			t.Errorf("bob's state after alice's delete = %+v", bobWant)
		}
		if err := env.bob.Get(ctx, "memories/"+b.linked, nil, &got); err != nil {
			t.Errorf("bob's linked memory after alice's delete: %v", err)
		}
	})
}
