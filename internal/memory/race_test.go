package memory

import (
	"context"
	"errors"
	"testing"

	"github.com/causeway-ai/causeway/internal/identity"
	"github.com/causeway-ai/causeway/internal/llm"
	"github.com/causeway-ai/causeway/internal/store"
	"github.com/causeway-ai/causeway/internal/store/storetest"
)

// An extraction in flight when its subject is erased writes nothing
// afterwards: the erased subject gets no memories back. (The same turn
// without the erasure does write one: the test is not vacuous.)
func TestEraseDuringExtraction(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		svc := &Service{Store: s}
		started, release := make(chan struct{}), make(chan struct{})
		x := NewExtractor(svc, nil, func() string { return "extractor" }, 0, 1, 0, nil)
		x.complete = func(context.Context, *identity.Principal, *llm.Request) (string, error) {
			close(started)
			<-release
			return `{"memories":[{"text":"The user has a rare disease."}]}`, nil
		}
		p := &identity.Principal{Tenant: "t", User: "alice"}
		o := store.Owner{Tenant: "t", Subject: "alice"}
		for _, id := range []string{"resp_1"} {
			if err := s.SaveResponse(ctx, o, &store.Response{ID: id, Model: "m", Status: "completed", Store: true}, nil, nil, nil); err != nil {
				t.Fatal(err)
			}
		}
		x.AfterTurn(p, o, Turn{ResponseID: "resp_1", Messages: []TurnMessage{{ItemID: "m1", Role: "user", Text: "I have a rare disease"}}})
		<-started
		rc, err := svc.Erase(ctx, "t", "alice")
		if err != nil {
			t.Fatal(err)
		}
		close(release)
		x.Wait()
		ms, _, err := s.ListMemories(ctx, o, DefaultNamespace, store.Page{})
		if err != nil {
			t.Fatal(err)
		}
		if len(ms) != 0 {
			t.Errorf("after erasure (receipt %+v) the subject has %d memories again: %q", rc.Deleted, len(ms), ms[0].Text)
		}
		// Control: a turn whose response is still there is extracted.
		if err := s.SaveResponse(ctx, o, &store.Response{ID: "resp_3", Model: "m", Status: "completed", Store: true}, nil, nil, nil); err != nil {
			t.Fatal(err)
		}
		x.complete = func(context.Context, *identity.Principal, *llm.Request) (string, error) {
			return `{"memories":[{"text":"The user likes tea."}]}`, nil
		}
		x.AfterTurn(p, o, Turn{ResponseID: "resp_3", Messages: []TurnMessage{{ItemID: "m3", Role: "user", Text: "I like tea"}}})
		x.Wait()
		if ms, _, _ = s.ListMemories(ctx, o, DefaultNamespace, store.Page{}); len(ms) != 1 {
			t.Errorf("a turn whose response exists: %d memories, want 1", len(ms))
		}
	})
}

// blockingEmbedder blocks its first call until released.
type blockingEmbedder struct{ in, release chan struct{} }

func (e *blockingEmbedder) Embed(_ context.Context, _ *identity.Principal, req *llm.EmbeddingRequest) (*llm.EmbeddingResponse, error) {
	close(e.in)
	<-e.release
	return &llm.EmbeddingResponse{Vectors: [][]float32{{1, 0}}}, nil
}

// A conversation deleted while a memory linked to it is being embedded:
// the memory is not written (it would be linked to a conversation that no
// longer exists, and no cascade would ever delete it).
func TestCreateMemoryDuringConversationDelete(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		o := store.Owner{Tenant: "t", Subject: "alice"}
		p := &identity.Principal{Tenant: "t", User: "alice"}
		if err := s.CreateConversation(ctx, o, &store.Conversation{ID: "conv_1"}, nil); err != nil {
			t.Fatal(err)
		}
		e := &blockingEmbedder{in: make(chan struct{}), release: make(chan struct{})}
		svc := &Service{Store: s, Embedder: e, EmbeddingModel: "emb"}
		done := make(chan error, 1)
		go func() {
			_, err := svc.Create(ctx, p, o, CreateParams{Text: "The user likes tea.", ConversationID: "conv_1"})
			done <- err
		}()
		<-e.in
		rc, err := s.DeleteConversation(ctx, o, "conv_1")
		if err != nil {
			t.Fatal(err)
		}
		close(e.release)
		cerr := <-done
		if _, err := s.GetConversation(ctx, o, "conv_1"); !errors.Is(err, store.ErrNotFound) {
			t.Fatal("conversation still there")
		}
		ms, _, _ := s.ListMemories(ctx, o, DefaultNamespace, store.Page{})
		if len(ms) != 0 {
			t.Errorf("Create err=%v; conversation deleted (receipt %+v) but memory %s linked to it survives (conversation_id=%s)", cerr, rc, ms[0].ID, ms[0].ConversationID)
		}
	})
}
