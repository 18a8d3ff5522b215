package memory

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"

	"github.com/causeway-ai/causeway/internal/gateway"
	"github.com/causeway-ai/causeway/internal/identity"
	"github.com/causeway-ai/causeway/internal/llm"
	"github.com/causeway-ai/causeway/internal/store"
)

// Embedder embeds texts as a principal; *gateway.Gateway is one, so
// every embedding goes through the request path and is metered to the
// caller.
type Embedder interface {
	Embed(ctx context.Context, p *identity.Principal, req *llm.EmbeddingRequest) (*llm.EmbeddingResponse, error)
}

// Search modes.
const (
	// ModeHybrid fuses full-text and vector ranking; it is the default,
	// and the same as ModeText when no embedding model is configured.
	ModeHybrid = "hybrid"
	// ModeText ranks by full-text relevance only.
	ModeText = "text"
	// ModeVector ranks by cosine similarity only.
	ModeVector = "vector"
)

// Retrieval constants.
const (
	// FusionDepth is how many candidates each ranking (full-text, vector)
	// contributes to the fusion.
	FusionDepth = 50
	// RRFK is the k of Reciprocal Rank Fusion: a memory scores
	// Σ 1/(RRFK + rank) over the rankings it appears in, rank from 1.
	RRFK = 60
)

// embedding returns the vector of text by the configured model, as p
// (nil when none is configured).
func (s *Service) embedding(ctx context.Context, p *identity.Principal, text string) (*store.Vector, error) {
	return s.embed(ctx, p, text, s.embeddingModel())
}

// embed returns the vector of text by model, as p (nil for no model).
func (s *Service) embed(ctx context.Context, p *identity.Principal, text, model string) (*store.Vector, error) {
	if model == "" || s.Embedder == nil {
		return nil, nil
	}
	if p == nil {
		return nil, fmt.Errorf("memory: embedding without a principal")
	}
	resp, err := s.Embedder.Embed(subRequest(ctx), p, &llm.EmbeddingRequest{Model: model, Input: []string{text}})
	if err != nil {
		return nil, err
	}
	if len(resp.Vectors) != 1 || len(resp.Vectors[0]) == 0 {
		return nil, fmt.Errorf("memory: embedding model %q returned %d vectors, want 1", model, len(resp.Vectors))
	}
	return &store.Vector{Model: model, Values: resp.Vectors[0]}, nil
}

// subRequest gives an embedding call its own request id, derived from
// the request's: usage is keyed by request id and attempt, so a call
// sharing the id of the response it serves (recall) or of another
// embedding (extraction stores several memories) would not be metered.
func subRequest(ctx context.Context) context.Context {
	info := gateway.RequestInfo{}
	if cur := gateway.Info(ctx); cur != nil {
		info = *cur
	}
	if info.ID == "" {
		info.ID = gateway.NewRequestID()
	}
	info.ID += "-" + identity.NewID("emb")
	return gateway.WithRequestInfo(ctx, &info)
}

// cosine is the cosine similarity of a and b (0 when either is zero).
func cosine(a, b []float32) float64 {
	var dot, na, nb float64
	for i := range a {
		x, y := float64(a[i]), float64(b[i])
		dot += x * y
		na += x * x
		nb += y * y
	}
	if na == 0 || nb == 0 {
		return 0
	}
	return dot / math.Sqrt(na*nb)
}

type scored struct {
	id    string
	score float64
}

// nearest ranks the owner's memories in a namespace by cosine similarity
// to q, best first, at most limit of them. It scans every vector of the
// namespace that the configured model made with len(q) dimensions.
func (s *Service) nearest(ctx context.Context, o store.Owner, ns, model string, q []float32, limit int) ([]scored, error) {
	vs, err := s.Store.MemoryVectors(ctx, o, ns, model, len(q))
	if err != nil {
		return nil, err
	}
	out := make([]scored, len(vs))
	for i, v := range vs {
		out[i] = scored{v.MemoryID, cosine(q, v.Values)}
	}
	slices.SortFunc(out, func(a, b scored) int {
		if c := cmp.Compare(b.score, a.score); c != 0 {
			return c
		}
		return cmp.Compare(a.id, b.id)
	})
	return out[:min(limit, len(out))], nil
}

// fuse combines rankings (ids, best first) by Reciprocal Rank Fusion and
// returns the best limit ids with their fused scores. Ties keep the order
// of the first ranking an id appears in, then id order.
func fuse(limit int, rankings ...[]string) []scored {
	score := map[string]float64{}
	first := map[string]int{}
	for ri, r := range rankings {
		for i, id := range r {
			score[id] += 1 / float64(RRFK+i+1)
			if _, ok := first[id]; !ok {
				first[id] = ri*1_000_000 + i
			}
		}
	}
	out := make([]scored, 0, len(score))
	for id, sc := range score {
		out = append(out, scored{id, sc})
	}
	slices.SortFunc(out, func(a, b scored) int {
		if c := cmp.Compare(b.score, a.score); c != 0 {
			return c
		}
		if c := cmp.Compare(first[a.id], first[b.id]); c != 0 {
			return c
		}
		return cmp.Compare(a.id, b.id)
	})
	return out[:min(limit, len(out))]
}

// search ranks the owner's memories in a namespace for a query by mode.
func (s *Service) search(ctx context.Context, p *identity.Principal, o store.Owner, ns, query, mode string, limit int) ([]store.MemoryHit, error) {
	// The model is read once: a reload may change it meanwhile.
	model := s.embeddingModel()
	vectors := model != "" && s.Embedder != nil
	switch mode {
	case "", ModeHybrid:
		if !vectors {
			return s.Store.SearchMemories(ctx, o, ns, query, limit)
		}
	case ModeText:
		return s.Store.SearchMemories(ctx, o, ns, query, limit)
	case ModeVector:
		if !vectors {
			return nil, invalid("mode", "invalid_value", "Invalid 'mode': 'vector' needs an embedding model (memory.embedding_model in the configuration).")
		}
	default:
		return nil, invalid("mode", "invalid_value", "Invalid value: '%s'. Supported values are: 'hybrid', 'text' and 'vector'.", mode)
	}
	qv, err := s.embed(ctx, p, query, model)
	if err != nil {
		return nil, err
	}
	depth := limit
	if mode != ModeVector {
		depth = max(limit, FusionDepth)
	}
	near, err := s.nearest(ctx, o, ns, model, qv.Values, depth)
	if err != nil {
		return nil, err
	}
	var (
		ranked []scored
		known  = map[string]*store.Memory{}
	)
	if mode == ModeVector {
		ranked = near
	} else {
		text, err := s.Store.SearchMemories(ctx, o, ns, query, depth)
		if err != nil {
			return nil, err
		}
		textIDs := make([]string, len(text))
		for i := range text {
			textIDs[i] = text[i].Memory.ID
			known[text[i].Memory.ID] = &text[i].Memory
		}
		nearIDs := make([]string, len(near))
		for i, n := range near {
			nearIDs[i] = n.id
		}
		ranked = fuse(limit, textIDs, nearIDs)
	}
	var missing []string
	for _, r := range ranked {
		if known[r.id] == nil {
			missing = append(missing, r.id)
		}
	}
	ms, err := s.Store.GetMemories(ctx, o, missing)
	if err != nil {
		return nil, err
	}
	for i := range ms {
		known[ms[i].ID] = &ms[i]
	}
	hits := make([]store.MemoryHit, 0, len(ranked))
	for _, r := range ranked {
		if m := known[r.id]; m != nil { // deleted meanwhile
			hits = append(hits, store.MemoryHit{Memory: *m, Score: r.score})
		}
	}
	return hits, nil
}
