package server_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/conversations"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/responses"

	"github.com/causeway-ai/causeway/internal/memory"
	"github.com/causeway-ai/causeway/internal/runtime"
	"github.com/causeway-ai/causeway/internal/server"
	"github.com/causeway-ai/causeway/internal/server/servertest"
)

// TestMemoryExtraction: with memory.extraction_model set, a stored
// response whose request had a "memory" object is followed by an
// extraction call to that model, as the caller (metered on their key),
// whose facts become memories in the request's namespace linked to the
// turn's items and conversation; "extract": false and requests without
// "memory" are not extracted, an identical fact is not stored twice, and
// nobody else sees the memories.
func TestMemoryExtraction(t *testing.T) {
	forStores(t, func(t *testing.T, kind string) {
		e := servertest.Start(t, servertest.Options{Store: kind,
			Config: servertest.DefaultConfig + "memory: {extraction_model: sim-other, embedding_model: sim-embed}\n"})
		aliceID, ka := e.CreateKey(t, server.KeyRequest{Name: "alice", User: "alice"})
		_, kb := e.CreateKey(t, server.KeyRequest{Name: "bob", User: "bob"})
		alice, bob := newClient(e.URL, ka), newClient(e.URL, kb)
		ctx := context.Background()
		list := func(c openai.Client, ns string) []memory.Record {
			t.Helper()
			var pg memory.Page
			if err := c.Get(ctx, "memories?limit=100&namespace="+ns, nil, &pg); err != nil {
				t.Fatalf("list %s: %v", ns, err)
			}
			return pg.Data
		}
		respond := func(conv string, mem map[string]any, input string) *responses.Response {
			t.Helper()
			p := responses.ResponseNewParams{Model: "sim-openai", Input: textInput(input)}
			if conv != "" {
				p.Conversation = responses.ResponseNewParamsConversationUnion{OfString: openai.String(conv)}
			}
			var opts []option.RequestOption
			if mem != nil {
				opts = append(opts, option.WithJSONSet("memory", mem))
			}
			r, err := alice.Responses.New(ctx, p, opts...)
			if err != nil {
				t.Fatalf("response: %v", err)
			}
			return r
		}
		conv, err := alice.Conversations.New(ctx, conversations.ConversationNewParams{})
		if err != nil {
			t.Fatal(err)
		}

		r := respond(conv.ID, map[string]any{"namespace": "prefs"}, "I am vegetarian and I live in Porto.")
		e.Server.WaitMemoryExtractions()
		got := list(alice, "prefs")
		if len(got) == 0 {
			t.Fatal("no memory extracted")
		}
		in, err := alice.Responses.InputItems.List(ctx, r.ID, responses.InputItemListParams{})
		if err != nil || len(in.Data) != 1 {
			t.Fatalf("input items = %+v, %v", in, err)
		}
		wantSources := []string{in.Data[0].ID, r.Output[0].ID}
		for _, m := range got {
			if m.Namespace != "prefs" || m.ConversationID == nil || *m.ConversationID != conv.ID ||
				!slices.Equal(m.SourceItemIDs, wantSources) ||
				m.Metadata["source"] != "extraction" || m.Metadata["response_id"] != r.ID || m.Text == "" {
				t.Errorf("extracted memory = %+v; want namespace prefs, conversation %s, sources %v, metadata source extraction and response_id %s",
					m, conv.ID, wantSources, r.ID)
			}
		}
		n := len(got)
		// The extraction went to its model, once, on alice's key: the
		// response, the recall's query embedding, the extraction and one
		// embedding per memory, each its own usage record.
		if st := e.Sim.Stats().Completed["other-model"]; st != 1 {
			t.Errorf("extraction model calls = %d, want 1", st)
		}
		servertest.WaitFor(t, "the extraction to be metered", func() bool {
			return e.Usage(t, "key_id="+aliceID).Requests == int64(3+n)
		})
		// All of them are tied to the response, the recall's embedding
		// too (the response's id exists before its context is prepared).
		if u := e.Usage(t, "response_id="+r.ID); u.Requests != int64(3+n) {
			t.Errorf("usage tied to the response = %d requests, want %d (the response, the recall, the extraction, %d embeddings)", u.Requests, 3+n, n)
		}

		// Another turn is extracted too (its duplicates are skipped:
		// TestExtractDuplicates in internal/memory).
		respond("", map[string]any{"namespace": "prefs"}, "My sister is called Ana.")
		e.Server.WaitMemoryExtractions()
		if st := e.Sim.Stats().Completed["other-model"]; st != 2 {
			t.Errorf("extraction model calls = %d, want 2", st)
		}
		unlinked := len(list(alice, "prefs")) - n

		// Opted out, or no memory object: no extraction call.
		respond("", map[string]any{"namespace": "optout", "extract": false}, "I have two cats.")
		respond("", nil, "I have three dogs.")
		e.Server.WaitMemoryExtractions()
		if st := e.Sim.Stats().Completed["other-model"]; st != 2 {
			t.Errorf("extraction model calls after opt-outs = %d, want still 2", st)
		}
		if got := list(alice, "optout"); len(got) != 0 {
			t.Errorf("memories of an opted-out turn: %+v", got)
		}
		if got := list(bob, "prefs"); len(got) != 0 {
			t.Errorf("bob sees alice's extracted memories: %+v", got)
		}

		// Deleting the conversation deletes what was extracted from it.
		var del runtime.ConversationDeleted
		if err := alice.Delete(ctx, "conversations/"+conv.ID, nil, &del); err != nil {
			t.Fatal(err)
		}
		if d := del.Receipt.Deleted; d.Memories != int64(n) || d.Vectors != int64(n) {
			t.Errorf("receipt = %+v, want %d memories and vectors", d, n)
		}
		left := list(alice, "prefs")
		if len(left) != unlinked {
			t.Errorf("after deleting the conversation: %d memories, want the %d of the turn outside it", len(left), unlinked)
		}
		for _, m := range left {
			if m.ConversationID != nil {
				t.Errorf("memory of the deleted conversation left: %s", fmt.Sprint(m))
			}
		}
	})
}
