package server_test

import (
	"context"
	"net/http"
	"slices"
	"testing"

	"github.com/openai/openai-go/v3/conversations"

	"github.com/causeway-ai/causeway/internal/memory"
	"github.com/causeway-ai/causeway/internal/runtime"
	"github.com/causeway-ai/causeway/internal/server"
	"github.com/causeway-ai/causeway/internal/server/servertest"
)

// TestMemoryVectorsThroughGateway: with memory.embedding_model set, every
// memory written and every search query is embedded through the gateway
// as the caller (one metered embeddings request each, on the caller's
// key), vector search finds by the simulator's feature-hashed vectors,
// and deleting the conversation a memory came from deletes its vector.
func TestMemoryVectorsThroughGateway(t *testing.T) {
	forStores(t, func(t *testing.T, kind string) {
		e := servertest.Start(t, servertest.Options{Store: kind, Config: servertest.DefaultConfig + "memory: {embedding_model: sim-embed}\n"})
		aliceID, ka := e.CreateKey(t, server.KeyRequest{Name: "alice", User: "alice"})
		_, kb := e.CreateKey(t, server.KeyRequest{Name: "bob", User: "bob"})
		alice, bob := newClient(e.URL, ka), newClient(e.URL, kb)
		ctx := context.Background()

		conv, err := alice.Conversations.New(ctx, conversations.ConversationNewParams{})
		if err != nil {
			t.Fatal(err)
		}
		garden := createMemory(t, alice, map[string]any{"text": "Alice grows tomatoes in her allotment garden.", "conversation_id": conv.ID})
		createMemory(t, alice, map[string]any{"text": "Alice's brother is a pilot."})
		bobs := createMemory(t, bob, map[string]any{"text": "Bob grows tomatoes in his garden too."})

		// "gardening" shares no word with the memory, only trigrams.
		var res memory.Results
		if err := alice.Post(ctx, "memories/search", map[string]any{"query": "gardening", "mode": "vector", "limit": 1}, &res); err != nil {
			t.Fatalf("vector search: %v", err)
		}
		if len(res.Data) != 1 || res.Data[0].Memory.ID != garden.ID {
			t.Errorf("vector search for gardening = %+v, want %s", res.Data, garden.ID)
		}
		if ids := search(t, alice, map[string]any{"query": "tomatoes"}); len(ids) != 2 || ids[0] != garden.ID || slices.Contains(ids, bobs.ID) {
			t.Errorf("hybrid search for tomatoes = %v, want %s first of alice's two, never bob's %s", ids, garden.ID, bobs.ID)
		}
		// Two writes and two queries, each one embeddings request on
		// alice's key.
		servertest.WaitFor(t, "alice's embeddings to be metered", func() bool {
			return e.Usage(t, "key_id="+aliceID).Requests == 4
		})
		if u := e.Usage(t, "key_id="+aliceID); u.InputTokens == 0 || u.OutputTokens != 0 {
			t.Errorf("alice's usage = %+v, want embedding tokens only", u)
		}

		var del runtime.ConversationDeleted
		if err := alice.Delete(ctx, "conversations/"+conv.ID, nil, &del); err != nil {
			t.Fatal(err)
		}
		if d := del.Receipt.Deleted; d.Memories != 1 || d.Vectors != 1 || d.Conversations != 1 {
			t.Errorf("receipt = %+v, want the memory and its vector", d)
		}
		// The admin erasure deletes the vectors too.
		var rc memory.Receipt
		if st := e.Admin(t, http.MethodPost, "/admin/v1/erase", map[string]any{"user": "bob"}, &rc); st != 200 || rc.Deleted.Vectors != 1 || rc.Deleted.Memories != 1 {
			t.Errorf("erase bob: status %d, receipt %+v; want 1 memory and 1 vector", st, rc)
		}
	})
}
