package memory_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/causeway-ai/causeway/internal/identity"
	"github.com/causeway-ai/causeway/internal/llm"
	"github.com/causeway-ai/causeway/internal/memory"
	"github.com/causeway-ai/causeway/internal/store"
	"github.com/causeway-ai/causeway/internal/store/storetest"
)

// conceptEmbedder embeds a text as the concepts its words name, so that
// "puppy" is near "dog" with no word in common — what full text cannot
// find and vectors can.
type conceptEmbedder struct {
	mu    sync.Mutex
	calls []string // principal user: model: text
	fail  bool
}

var concepts = map[string]int{"dog": 0, "puppy": 0, "pet": 0, "jazz": 1, "music": 1, "songs": 1, "peanuts": 2, "food": 2}

func (e *conceptEmbedder) Embed(_ context.Context, p *identity.Principal, req *llm.EmbeddingRequest) (*llm.EmbeddingResponse, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.fail {
		return nil, &llm.Error{Kind: llm.KindUnavailable, Message: "embedding upstream down"}
	}
	resp := &llm.EmbeddingResponse{Model: req.Model}
	for _, in := range req.Input {
		e.calls = append(e.calls, p.User+":"+req.Model+":"+in)
		v := make([]float32, 4)
		v[3] = 0.01 // never the zero vector
		for _, w := range strings.FieldsFunc(strings.ToLower(in), func(r rune) bool { return r < 'a' || r > 'z' }) {
			if c, ok := concepts[w]; ok {
				v[c]++
			}
		}
		resp.Vectors = append(resp.Vectors, v)
	}
	return resp, nil
}

func recIDs(rs []memory.Record) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.ID
	}
	return out
}

func TestHybridSearch(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		emb := &conceptEmbedder{}
		svc := &memory.Service{Store: s, Embedder: emb, EmbeddingModel: "concepts"}
		alice := &identity.Principal{Tenant: "t", User: "alice"}
		bob := &identity.Principal{Tenant: "t", User: "bob"}
		ao := store.Owner{Tenant: "t", Subject: "alice"}
		bo := store.Owner{Tenant: "t", Subject: "bob"}
		create := func(p *identity.Principal, o store.Owner, text string) string {
			t.Helper()
			r, err := svc.Create(ctx, p, o, memory.CreateParams{Text: text})
			if err != nil {
				t.Fatalf("Create(%q): %v", text, err)
			}
			return r.ID
		}
		dog := create(alice, ao, "Alice's dog is called Biscuit.")
		jazz := create(alice, ao, "Alice likes jazz.")
		nuts := create(alice, ao, "Alice is allergic to peanuts.")
		bobDog := create(bob, bo, "Bob has a dog called Rex.")
		if got := emb.calls[0]; got != "alice:concepts:Alice's dog is called Biscuit." {
			t.Errorf("first embedding = %q, want alice's, by the configured model", got)
		}
		if got := emb.calls[3]; !strings.HasPrefix(got, "bob:") {
			t.Errorf("bob's memory embedded as %q, want as bob", got)
		}

		recall := func(mode, q string, k int) []string {
			t.Helper()
			rs, err := svc.RecallMode(ctx, alice, ao, "", q, mode, k)
			if err != nil {
				t.Fatalf("RecallMode(%s, %q): %v", mode, q, err)
			}
			return recIDs(rs)
		}
		if got := recall(memory.ModeText, "my puppy", 3); len(got) != 0 {
			t.Errorf("text search for puppy = %v, want nothing (no shared word)", got)
		}
		if got := recall(memory.ModeVector, "my puppy", 1); !slices.Equal(got, []string{dog}) {
			t.Errorf("vector search for puppy = %v, want [%s]", got, dog)
		}
		if got := recall(memory.ModeHybrid, "my puppy", 1); !slices.Equal(got, []string{dog}) {
			t.Errorf("hybrid search for puppy = %v, want [%s]", got, dog)
		}
		// A memory both rankings put first wins the fusion.
		if got := recall("", "peanuts food", 3); len(got) == 0 || got[0] != nuts {
			t.Errorf("hybrid search for peanuts = %v, want %s first", got, nuts)
		}
		// Never another subject's.
		for _, mode := range []string{memory.ModeText, memory.ModeVector, memory.ModeHybrid} {
			if got := recall(mode, "dog Rex Bob puppy", 10); slices.Contains(got, bobDog) {
				t.Errorf("%s search returns bob's memory: %v", mode, got)
			}
		}
		// The search API says the same and checks the mode.
		res, err := svc.Search(ctx, alice, ao, memory.SearchParams{Query: "puppy", Mode: "vector"})
		if err != nil || len(res.Data) == 0 || res.Data[0].Memory.ID != dog || res.Data[0].Score <= 0 {
			t.Errorf("Search(vector, puppy) = %+v, %v", res, err)
		}
		if _, err := svc.Search(ctx, alice, ao, memory.SearchParams{Query: "puppy", Mode: "semantic"}); llm.AsError(err).Kind != llm.KindInvalid {
			t.Errorf("Search with an unknown mode: %v, want invalid", err)
		}

		// A vector of another model is ignored: only full text finds
		// the memory.
		old := &store.Memory{ID: "mem_old", Namespace: memory.DefaultNamespace, Text: "An old note about music",
			Vector: &store.Vector{Model: "older-model", Values: []float32{0, 1, 0, 0}}}
		if err := s.CreateMemory(ctx, ao, old); err != nil {
			t.Fatal(err)
		}
		if got := recall(memory.ModeVector, "music", 5); slices.Contains(got, "mem_old") || !slices.Contains(got, jazz) {
			t.Errorf("vector search for music = %v, want %s and not mem_old (another model's vector)", got, jazz)
		}
		if got := recall(memory.ModeHybrid, "music", 5); !slices.Contains(got, "mem_old") {
			t.Errorf("hybrid search for music = %v, want mem_old (by full text)", got)
		}

		// An update embeds the new text.
		songs := "Alice now prefers songs to dogs."
		if _, err := svc.Update(ctx, alice, ao, dog, memory.UpdateParams{Text: &songs}); err != nil {
			t.Fatal(err)
		}
		if got := recall(memory.ModeVector, "music", 2); !slices.Contains(got, dog) {
			t.Errorf("vector search for music after update = %v, want %s (re-embedded)", got, dog)
		}

		// When the embedding fails, nothing is written.
		emb.fail = true
		if _, err := svc.Create(ctx, alice, ao, memory.CreateParams{Text: "not kept"}); err == nil {
			t.Error("Create with the embedding model down succeeded")
		}
		if _, err := s.MemoryWithText(ctx, ao, memory.DefaultNamespace, "not kept"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("memory written although its embedding failed: %v", err)
		}
	})
}
