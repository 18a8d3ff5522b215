package memory

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/causeway-ai/causeway/internal/identity"
	"github.com/causeway-ai/causeway/internal/llm"
	"github.com/causeway-ai/causeway/internal/store"
	"github.com/causeway-ai/causeway/internal/store/storetest"
)

// TestExtractDuplicates: facts already remembered in the namespace are
// not stored again, blank ones are dropped, the request asks for the
// schema with the turn's text, and a bad answer is an error that stores
// nothing.
func TestExtractDuplicates(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		svc := &Service{Store: s}
		var (
			mu     sync.Mutex
			answer = `{"memories":[{"text":"The user is vegetarian."},{"text":"  "},{"text":"The user lives in Porto."}]}`
			seen   []*llm.Request
		)
		x := NewExtractor(svc, nil, func() string { return "extractor" }, 0, 1, 0, nil)
		x.complete = func(_ context.Context, _ *identity.Principal, req *llm.Request) (string, error) {
			mu.Lock()
			defer mu.Unlock()
			seen = append(seen, req)
			return answer, nil
		}
		p := &identity.Principal{Tenant: "t", User: "alice"}
		o := store.Owner{Tenant: "t", Subject: "alice"}
		turn := Turn{ResponseID: "resp_1", Namespace: "n", Messages: []TurnMessage{
			{ItemID: "msg_in", Role: "user", Text: "I'm vegetarian, and I live in Porto."},
			{ItemID: "msg_out", Role: "assistant", Text: "Noted."}}}
		if _, err := svc.Create(ctx, p, o, CreateParams{Namespace: "n", Text: "The user lives in Porto."}); err != nil {
			t.Fatal(err)
		}
		// The turn's response is stored: memories are written only while
		// it exists.
		if err := s.SaveResponse(ctx, o, &store.Response{ID: "resp_1", Model: "m", Status: "completed", Store: true}, nil, nil, nil); err != nil {
			t.Fatal(err)
		}
		n, err := x.Extract(ctx, p, o, turn)
		if err != nil || n != 1 {
			t.Fatalf("Extract = %d, %v; want 1 (one new, one known, one blank)", n, err)
		}
		req := seen[0]
		if req.Model != "extractor" || req.ResponseFormat == nil || req.ResponseFormat.Type != llm.FormatJSONSchema ||
			!json.Valid(req.ResponseFormat.Schema) || !strings.Contains(req.Messages[1].Text(), "user: I'm vegetarian") {
			t.Errorf("extraction request = %+v", req)
		}
		m, err := s.MemoryWithText(ctx, o, "n", "The user is vegetarian.")
		if err != nil || strings.Join(m.SourceItemIDs, ",") != "msg_in,msg_out" || m.Metadata["response_id"] != "resp_1" {
			t.Errorf("extracted memory = %+v, %v", m, err)
		}
		// Again: nothing new.
		if n, err := x.Extract(ctx, p, o, turn); err != nil || n != 0 {
			t.Errorf("second Extract = %d, %v; want 0", n, err)
		}
		// In the background, through AfterTurn and Wait.
		answer = `{"memories":[{"text":"The user has a cat."}]}`
		x.AfterTurn(p, o, turn)
		x.Wait()
		if _, err := s.MemoryWithText(ctx, o, "n", "The user has a cat."); err != nil {
			t.Errorf("AfterTurn's memory: %v", err)
		}
		answer = `not json`
		if n, err := x.Extract(ctx, p, o, turn); err == nil || n != 0 {
			t.Errorf("Extract of a bad answer = %d, %v; want an error", n, err)
		}
		if _, err := s.MemoryWithText(ctx, store.Owner{Tenant: "t", Subject: "bob"}, "n", "The user has a cat."); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("bob sees alice's memory: %v", err)
		}
	})
}
