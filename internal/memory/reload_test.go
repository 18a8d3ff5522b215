package memory

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/causeway-ai/causeway/internal/identity"
	"github.com/causeway-ai/causeway/internal/llm"
	"github.com/causeway-ai/causeway/internal/store"
	"github.com/causeway-ai/causeway/internal/store/storetest"
)

type reloadEmbedder struct{}

func (reloadEmbedder) Embed(_ context.Context, _ *identity.Principal, req *llm.EmbeddingRequest) (*llm.EmbeddingResponse, error) {
	return &llm.EmbeddingResponse{Vectors: [][]float32{{1, 0}}}, nil
}

// A reload that turns embedding off while a search runs: the search
// reads the model once, so it neither panics nor mixes models.
func TestSearchDuringReload(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s *store.Store) {
		var calls atomic.Int32
		svc := &Service{Store: s, Embedder: reloadEmbedder{}, Model: func() string {
			if calls.Add(1) == 1 {
				return "emb" // configuration before the reload
			}
			return "" // the reload removed memory.embedding_model
		}}
		p := &identity.Principal{Tenant: "t", User: "alice"}
		defer func() {
			if r := recover(); r != nil {
				t.Errorf("Search panicked: %v", r)
			}
		}()
		_, err := svc.Search(t.Context(), p, store.Owner{Tenant: "t", Subject: "alice"}, SearchParams{Query: "tea"})
		t.Logf("err = %v", err)
	})
}
