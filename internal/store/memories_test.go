package store_test

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/causeway-ai/causeway/internal/store"
	"github.com/causeway-ai/causeway/internal/store/storetest"
)

func memIDs(ms []store.Memory) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.ID
	}
	return out
}

func hitIDs(hs []store.MemoryHit) []string {
	out := make([]string, len(hs))
	for i, h := range hs {
		out[i] = h.Memory.ID
	}
	return out
}

func TestMemories(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		alice := store.Owner{Tenant: "t1", Subject: "alice"}
		bob := store.Owner{Tenant: "t1", Subject: "bob"}
		other := store.Owner{Tenant: "t2", Subject: "alice"}
		base := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

		texts := []string{
			"Alice keeps bees on the roof of her flat in Lisbon.",
			"Alice's favourite colour is teal.",
			"Alice is allergic to peanuts and shellfish.",
		}
		for i, txt := range texts {
			m := &store.Memory{ID: fmt.Sprintf("mem_a%d", i), Namespace: "default", Text: txt,
				Metadata: map[string]string{"n": fmt.Sprint(i)}, SourceItemIDs: []string{"msg_" + fmt.Sprint(i)},
				CreatedAt: base.Add(time.Duration(i) * time.Second)}
			if err := s.CreateMemory(ctx, alice, m); err != nil {
				t.Fatalf("CreateMemory(%s): %v", m.ID, err)
			}
		}
		// Bob (same tenant) and alice of another tenant have memories
		// with the same words.
		for _, o := range []store.Owner{bob, other} {
			m := &store.Memory{ID: "mem_" + o.Tenant + o.Subject, Namespace: "default", Text: "keeps bees in Lisbon, allergic to peanuts"}
			if err := s.CreateMemory(ctx, o, m); err != nil {
				t.Fatalf("CreateMemory(%s): %v", m.ID, err)
			}
		}
		if err := s.CreateMemory(ctx, alice, &store.Memory{ID: "mem_work", Namespace: "work", Text: "bees bees bees"}); err != nil {
			t.Fatal(err)
		}

		got, err := s.GetMemory(ctx, alice, "mem_a1")
		if err != nil {
			t.Fatalf("GetMemory: %v", err)
		}
		if got.Text != texts[1] || got.Metadata["n"] != "1" || !slices.Equal(got.SourceItemIDs, []string{"msg_1"}) ||
			!got.CreatedAt.Equal(base.Add(time.Second)) || !got.UpdatedAt.Equal(got.CreatedAt) || got.Namespace != "default" {
			t.Errorf("GetMemory = %+v", got)
		}
		for _, o := range []store.Owner{bob, other} {
			if _, err := s.GetMemory(ctx, o, "mem_a1"); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("GetMemory as %v: err = %v, want ErrNotFound", o, err)
			}
			if err := s.DeleteMemory(ctx, o, "mem_a1"); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("DeleteMemory as %v: err = %v, want ErrNotFound", o, err)
			}
			if err := s.UpdateMemory(ctx, o, &store.Memory{ID: "mem_a1", Text: "x"}); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("UpdateMemory as %v: err = %v, want ErrNotFound", o, err)
			}
		}

		// Pages, newest first and oldest first.
		ms, more, err := s.ListMemories(ctx, alice, "default", store.Page{Limit: 2, Desc: true})
		if err != nil || !more || !slices.Equal(memIDs(ms), []string{"mem_a2", "mem_a1"}) {
			t.Errorf("ListMemories desc page 1 = %v, %v, %v", memIDs(ms), more, err)
		}
		ms, more, err = s.ListMemories(ctx, alice, "default", store.Page{Limit: 2, Desc: true, After: "mem_a1"})
		if err != nil || more || !slices.Equal(memIDs(ms), []string{"mem_a0"}) {
			t.Errorf("ListMemories desc page 2 = %v, %v, %v", memIDs(ms), more, err)
		}
		ms, _, err = s.ListMemories(ctx, alice, "default", store.Page{})
		if err != nil || !slices.Equal(memIDs(ms), []string{"mem_a0", "mem_a1", "mem_a2"}) {
			t.Errorf("ListMemories asc = %v, %v", memIDs(ms), err)
		}
		if _, _, err := s.ListMemories(ctx, bob, "default", store.Page{After: "mem_a1"}); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("ListMemories after another's id: err = %v, want ErrNotFound", err)
		}

		// Search: the memory with the query's words ranks first; stemming
		// finds "peanuts" from "peanut".
		hits, err := s.SearchMemories(ctx, alice, "default", "Which foods is she allergic to? peanut?", 5)
		if err != nil {
			t.Fatalf("SearchMemories: %v", err)
		}
		if len(hits) != 1 || hits[0].Memory.ID != "mem_a2" || hits[0].Score <= 0 {
			t.Errorf("SearchMemories(allergic) = %v (%+v), want [mem_a2] with a positive score", hitIDs(hits), hits)
		}
		hits, err = s.SearchMemories(ctx, alice, "default", "where does she keep the bees", 5)
		if err != nil || len(hits) != 1 || hits[0].Memory.ID != "mem_a0" {
			t.Errorf("SearchMemories(bees) = %v, %v; want [mem_a0]", hitIDs(hits), err)
		}
		// Ranking: more of the query's words ranks higher.
		hits, err = s.SearchMemories(ctx, alice, "default", "Alice, bees, roof", 5)
		if err != nil || len(hits) != 3 || hits[0].Memory.ID != "mem_a0" || hits[0].Score <= hits[1].Score {
			t.Errorf("SearchMemories(alice bees roof) = %+v, %v; want mem_a0 first of 3, with a higher score", hits, err)
		}
		hits, err = s.SearchMemories(ctx, alice, "default", "Alice, bees, roof", 2)
		if err != nil || len(hits) != 2 {
			t.Errorf("SearchMemories(limit 2) = %v, %v; want 2", hitIDs(hits), err)
		}
		hits, err = s.SearchMemories(ctx, alice, "work", "bees", 5)
		if err != nil || !slices.Equal(hitIDs(hits), []string{"mem_work"}) {
			t.Errorf("SearchMemories(work) = %v, %v", hitIDs(hits), err)
		}
		// Query syntax is not interpreted.
		for _, q := range []string{`"`, `bees AND NOT`, `text:bees`, `bees*`, `NEAR(bees roof)`, `it's the`, `!&|():*`} {
			if _, err := s.SearchMemories(ctx, alice, "default", q, 5); err != nil {
				t.Errorf("SearchMemories(%q): %v", q, err)
			}
		}
		if hits, err := s.SearchMemories(ctx, alice, "default", "the of and", 5); err != nil || len(hits) != 0 {
			t.Errorf("SearchMemories(stop words) = %v, %v; want none", hitIDs(hits), err)
		}
		// Partition: bob and the other tenant's alice see only their own.
		for _, o := range []store.Owner{bob, other} {
			hits, err := s.SearchMemories(ctx, o, "default", "bees Lisbon peanuts teal roof", 50)
			if err != nil || !slices.Equal(hitIDs(hits), []string{"mem_" + o.Tenant + o.Subject}) {
				t.Errorf("SearchMemories as %v = %v, %v; want only its own", o, hitIDs(hits), err)
			}
			ms, _, err := s.ListMemories(ctx, o, "default", store.Page{})
			if err != nil || !slices.Equal(memIDs(ms), []string{"mem_" + o.Tenant + o.Subject}) {
				t.Errorf("ListMemories as %v = %v, %v; want only its own", o, memIDs(ms), err)
			}
		}

		// Update re-indexes: the old words no longer find it.
		m, _ := s.GetMemory(ctx, alice, "mem_a1")
		m.Text, m.Metadata, m.UpdatedAt = "Alice's favourite colour is now orange.", map[string]string{"k": "v"}, base.Add(time.Hour)
		if err := s.UpdateMemory(ctx, alice, m); err != nil {
			t.Fatalf("UpdateMemory: %v", err)
		}
		if hits, _ := s.SearchMemories(ctx, alice, "default", "teal", 5); len(hits) != 0 {
			t.Errorf("after update, search(teal) = %v, want none", hitIDs(hits))
		}
		if hits, _ := s.SearchMemories(ctx, alice, "default", "orange", 5); !slices.Equal(hitIDs(hits), []string{"mem_a1"}) {
			t.Errorf("after update, search(orange) = %v, want [mem_a1]", hitIDs(hits))
		}
		got, _ = s.GetMemory(ctx, alice, "mem_a1")
		if got.Metadata["k"] != "v" || len(got.Metadata) != 1 || !got.UpdatedAt.Equal(base.Add(time.Hour)) || !got.CreatedAt.Equal(base.Add(time.Second)) {
			t.Errorf("after update, GetMemory = %+v", got)
		}

		// Delete one, then the namespace.
		if err := s.DeleteMemory(ctx, alice, "mem_a0"); err != nil {
			t.Fatalf("DeleteMemory: %v", err)
		}
		if hits, _ := s.SearchMemories(ctx, alice, "default", "bees", 5); len(hits) != 0 {
			t.Errorf("after delete, search(bees) = %v, want none", hitIDs(hits))
		}
		n, err := s.DeleteMemories(ctx, alice, "default")
		if err != nil || n != 2 {
			t.Errorf("DeleteMemories = %d, %v; want 2", n, err)
		}
		if hits, _ := s.SearchMemories(ctx, alice, "default", "peanuts orange", 5); len(hits) != 0 {
			t.Errorf("after namespace delete, search = %v, want none", hitIDs(hits))
		}
		if ms, _, _ := s.ListMemories(ctx, alice, "work", store.Page{}); !slices.Equal(memIDs(ms), []string{"mem_work"}) {
			t.Errorf("other namespace after delete = %v, want [mem_work]", memIDs(ms))
		}
		for _, o := range []store.Owner{bob, other} {
			if _, err := s.GetMemory(ctx, o, "mem_"+o.Tenant+o.Subject); err != nil {
				t.Errorf("%v's memory after alice's namespace delete: %v", o, err)
			}
		}
	})
}

func TestEraseSubject(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		alice := store.Owner{Tenant: "t1", Subject: "alice"}
		bob := store.Owner{Tenant: "t1", Subject: "bob"}
		other := store.Owner{Tenant: "t2", Subject: "alice"}
		seed := func(o store.Owner, p string) {
			t.Helper()
			c := &store.Conversation{ID: p + "conv"}
			if err := s.CreateConversation(ctx, o, c, []store.Item{item(p + "c0")}); err != nil {
				t.Fatal(err)
			}
			r1 := &store.Response{ID: p + "r1", Store: true, ConversationID: c.ID}
			if err := s.SaveResponse(ctx, o, r1, []store.Item{item(p + "i1")}, []store.Item{item(p + "o1")},
				[]json.RawMessage{json.RawMessage(`{}`), json.RawMessage(`{}`), json.RawMessage(`{}`)}); err != nil {
				t.Fatal(err)
			}
			r2 := &store.Response{ID: p + "r2", Store: true}
			if err := s.SaveResponse(ctx, o, r2, []store.Item{item(p + "i2"), item(p + "i3")}, []store.Item{item(p + "o2")}, nil); err != nil {
				t.Fatal(err)
			}
			for i := range 2 {
				if err := s.CreateMemory(ctx, o, &store.Memory{ID: fmt.Sprintf("%smem%d", p, i), Namespace: fmt.Sprint(i), Text: "remember this",
					Vector: &store.Vector{Model: "emb", Values: []float32{1, 0}}}); err != nil {
					t.Fatal(err)
				}
			}
		}
		seed(alice, "a_")
		seed(bob, "b_")
		seed(other, "x_")

		e, err := s.EraseSubject(ctx, alice)
		if err != nil {
			t.Fatalf("EraseSubject: %v", err)
		}
		// Items: 1 conversation item, r1's input and output (2) and their
		// copies in the conversation (2), r2's 3: 8.
		want := store.Erased{Responses: 2, Conversations: 1, Items: 8, Events: 3, Memories: 2, Vectors: 2}
		if e != want {
			t.Errorf("EraseSubject = %+v, want %+v", e, want)
		}
		if _, err := s.GetResponse(ctx, alice, "a_r1"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("alice's response after erasure: %v, want ErrNotFound", err)
		}
		if hits, _ := s.SearchMemories(ctx, alice, "0", "remember", 5); len(hits) != 0 {
			t.Errorf("alice's memories after erasure: %v", hitIDs(hits))
		}
		// Nothing else went.
		for _, c := range []struct {
			o store.Owner
			p string
		}{{bob, "b_"}, {other, "x_"}} {
			if _, err := s.GetResponse(ctx, c.o, c.p+"r2"); err != nil {
				t.Errorf("%v's response after alice's erasure: %v", c.o, err)
			}
			items, _, err := s.ConversationItems(ctx, c.o, c.p+"conv", store.Page{})
			if err != nil || len(items) != 3 {
				t.Errorf("%v's conversation items after alice's erasure: %d, %v; want 3", c.o, len(items), err)
			}
			if evs, err := s.ResponseEvents(ctx, c.o, c.p+"r1", -1); err != nil || len(evs) != 3 {
				t.Errorf("%v's events after alice's erasure: %d, %v; want 3", c.o, len(evs), err)
			}
			if hits, err := s.SearchMemories(ctx, c.o, "1", "remember", 5); err != nil || len(hits) != 1 {
				t.Errorf("%v's memories after alice's erasure: %v, %v", c.o, hitIDs(hits), err)
			}
			if vs, err := s.MemoryVectors(ctx, c.o, "1", "emb", 2); err != nil || len(vs) != 1 {
				t.Errorf("%v's vectors after alice's erasure: %d, %v; want 1", c.o, len(vs), err)
			}
		}
		if vs, err := s.MemoryVectors(ctx, alice, "1", "emb", 2); err != nil || len(vs) != 0 {
			t.Errorf("alice's vectors after erasure: %d, %v; want 0", len(vs), err)
		}
		again, err := s.EraseSubject(ctx, alice)
		if err != nil || again != (store.Erased{}) {
			t.Errorf("second EraseSubject = %+v, %v; want all zero", again, err)
		}
	})
}

// TestMemoryIndexReopen: the search index survives reopening the store,
// and on SQLite memories that are missing from it (written before it
// existed) are indexed when a store first touches memories.
func TestMemoryIndexReopen(t *testing.T) {
	for _, kind := range storetest.Kinds {
		t.Run(kind, func(t *testing.T) {
			dsn := storetest.DSN(t, kind)
			s1, err := store.Open(t.Context(), dsn)
			if err != nil {
				t.Fatal(err)
			}
			if err := s1.CreateMemory(t.Context(), store.Owner{Tenant: "t", Subject: "u"}, &store.Memory{ID: "mem_1", Namespace: "n", Text: "kept across restarts"}); err != nil {
				t.Fatal(err)
			}
			s1.Close()
			if kind == storetest.SQLite {
				// As if the memories were written before the index
				// existed: the next store indexes them.
				db, err := sql.Open("sqlite", dsn)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := db.Exec(`DROP TABLE memories_fts`); err != nil {
					t.Fatal(err)
				}
				db.Close()
			}
			s2, err := store.Open(t.Context(), dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer s2.Close()
			hits, err := s2.SearchMemories(t.Context(), store.Owner{Tenant: "t", Subject: "u"}, "n", "restart", 5)
			if err != nil || !slices.Equal(hitIDs(hits), []string{"mem_1"}) {
				t.Errorf("search after reopen = %v, %v; want [mem_1]", hitIDs(hits), err)
			}
		})
	}
}

// TestDeleteConversationCascade: deleting a conversation deletes its
// items, the responses made in it with their items and events, and the
// memories linked to it with their vectors — exactly those, counted.
func TestDeleteConversationCascade(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		alice := store.Owner{Tenant: "t1", Subject: "alice"}
		bob := store.Owner{Tenant: "t1", Subject: "bob"}
		other := store.Owner{Tenant: "t2", Subject: "alice"}
		events := func(n int) []json.RawMessage {
			evs := make([]json.RawMessage, n)
			for i := range evs {
				evs[i] = json.RawMessage(`{}`)
			}
			return evs
		}
		vec := &store.Vector{Model: "emb", Values: []float32{0.6, 0.8}}
		seed := func(o store.Owner, p string) {
			t.Helper()
			conv := p + "conv"
			must := func(err error) {
				t.Helper()
				if err != nil {
					t.Fatal(err)
				}
			}
			must(s.CreateConversation(ctx, o, &store.Conversation{ID: conv}, []store.Item{item(p + "c0")}))
			must(s.SaveResponse(ctx, o, &store.Response{ID: p + "r1", Store: true, ConversationID: conv},
				[]store.Item{item(p + "i1")}, []store.Item{item(p + "o1")}, events(3)))
			must(s.SaveResponse(ctx, o, &store.Response{ID: p + "r2", Store: true, ConversationID: conv},
				[]store.Item{item(p + "i2")}, []store.Item{item(p + "o2")}, events(2)))
			// Not in the conversation: kept.
			must(s.SaveResponse(ctx, o, &store.Response{ID: p + "r3", Store: true},
				[]store.Item{item(p + "i3")}, []store.Item{item(p + "o3")}, events(1)))
			must(s.CreateMemory(ctx, o, &store.Memory{ID: p + "m0", Namespace: "n", Text: "linked with a vector", ConversationID: conv, Vector: vec}))
			must(s.CreateMemory(ctx, o, &store.Memory{ID: p + "m1", Namespace: "n", Text: "linked without a vector", ConversationID: conv}))
			must(s.CreateMemory(ctx, o, &store.Memory{ID: p + "m2", Namespace: "n", Text: "not linked", Vector: vec}))
		}
		seed(alice, "a_")
		seed(bob, "b_")
		seed(other, "x_")
		// Bob cannot link a memory to alice's conversation: to him it does
		// not exist.
		if err := s.CreateMemory(ctx, bob, &store.Memory{ID: "b_m3", Namespace: "n", Text: "names alice's conversation", ConversationID: "a_conv", Vector: vec}); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("bob's memory linked to alice's conversation: %v, want ErrNotFound", err)
		}

		for _, o := range []store.Owner{bob, other} {
			if e, err := s.DeleteConversation(ctx, o, "a_conv"); !errors.Is(err, store.ErrNotFound) || e != (store.Erased{}) {
				t.Errorf("DeleteConversation of alice's as %v = %+v, %v; want ErrNotFound, nothing", o, e, err)
			}
		}
		e, err := s.DeleteConversation(ctx, alice, "a_conv")
		if err != nil {
			t.Fatalf("DeleteConversation: %v", err)
		}
		// Items: c0; r1's and r2's inputs and outputs (4) and their
		// copies in the conversation (4).
		want := store.Erased{Conversations: 1, Responses: 2, Items: 9, Events: 5, Memories: 2, Vectors: 1}
		if e != want {
			t.Errorf("DeleteConversation = %+v, want %+v", e, want)
		}

		// Nothing of it is left.
		for _, id := range []string{"a_r1", "a_r2"} {
			if _, err := s.GetResponse(ctx, alice, id); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("response %s after delete: %v, want ErrNotFound", id, err)
			}
			if evs, err := s.ResponseEvents(ctx, alice, id, -1); len(evs) != 0 {
				t.Errorf("events of %s after delete: %d, %v", id, len(evs), err)
			}
		}
		for _, id := range []string{"a_c0", "a_i1", "a_o1", "a_i2", "a_o2"} {
			if _, err := s.FindItem(ctx, alice, id); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("item %s after delete: %v, want ErrNotFound", id, err)
			}
		}
		for _, id := range []string{"a_m0", "a_m1"} {
			if _, err := s.GetMemory(ctx, alice, id); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("memory %s after delete: %v, want ErrNotFound", id, err)
			}
		}
		if hits, err := s.SearchMemories(ctx, alice, "n", "linked", 10); err != nil || !slices.Equal(hitIDs(hits), []string{"a_m2"}) {
			t.Errorf("search after delete = %v, %v; want [a_m2] (the index forgot the deleted ones)", hitIDs(hits), err)
		}
		if vs, err := s.MemoryVectors(ctx, alice, "n", "emb", 2); err != nil || len(vs) != 1 || vs[0].MemoryID != "a_m2" {
			t.Errorf("alice's vectors after delete = %+v, %v; want a_m2's only", vs, err)
		}
		// What was not in the conversation stays.
		if _, err := s.GetResponse(ctx, alice, "a_r3"); err != nil {
			t.Errorf("response outside the conversation: %v", err)
		}
		if evs, err := s.ResponseEvents(ctx, alice, "a_r3", -1); err != nil || len(evs) != 1 {
			t.Errorf("events outside the conversation: %d, %v; want 1", len(evs), err)
		}
		if _, err := s.FindItem(ctx, alice, "a_i3"); err != nil {
			t.Errorf("item outside the conversation: %v", err)
		}
		// Nothing of another owner's is touched.
		for _, c := range []struct {
			o      store.Owner
			p      string
			memory int
		}{{bob, "b_", 3}, {other, "x_", 3}} {
			items, _, err := s.ConversationItems(ctx, c.o, c.p+"conv", store.Page{})
			if err != nil || len(items) != 5 {
				t.Errorf("%v's conversation items: %d, %v; want 5", c.o, len(items), err)
			}
			if evs, err := s.ResponseEvents(ctx, c.o, c.p+"r1", -1); err != nil || len(evs) != 3 {
				t.Errorf("%v's events: %d, %v; want 3", c.o, len(evs), err)
			}
			ms, _, err := s.ListMemories(ctx, c.o, "n", store.Page{})
			if err != nil || len(ms) != c.memory {
				t.Errorf("%v's memories: %v, %v; want %d", c.o, memIDs(ms), err, c.memory)
			}
		}
		if vs, err := s.MemoryVectors(ctx, bob, "n", "emb", 2); err != nil || len(vs) != 2 {
			t.Errorf("bob's vectors: %d, %v; want 2", len(vs), err)
		}
		if again, err := s.DeleteConversation(ctx, alice, "a_conv"); !errors.Is(err, store.ErrNotFound) || again != (store.Erased{}) {
			t.Errorf("second DeleteConversation = %+v, %v; want ErrNotFound", again, err)
		}
	})
}

// TestMemoryVectors: a memory's vector is stored with it, read back
// exactly, filtered by model and size, replaced or dropped on update, and
// deleted with the memory.
func TestMemoryVectors(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		alice := store.Owner{Tenant: "t1", Subject: "alice"}
		bob := store.Owner{Tenant: "t1", Subject: "bob"}
		v1 := []float32{0.25, -1.5, 3.0e-7}
		if err := s.CreateMemory(ctx, alice, &store.Memory{ID: "m1", Namespace: "n", Text: "one", Vector: &store.Vector{Model: "a", Values: v1}}); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateMemory(ctx, alice, &store.Memory{ID: "m2", Namespace: "n", Text: "two", Vector: &store.Vector{Model: "b", Values: v1}}); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateMemory(ctx, alice, &store.Memory{ID: "m3", Namespace: "n", Text: "three", Vector: &store.Vector{Model: "a", Values: v1[:2]}}); err != nil {
			t.Fatal(err)
		}
		vs, err := s.MemoryVectors(ctx, alice, "n", "a", 3)
		if err != nil || len(vs) != 1 || vs[0].MemoryID != "m1" || !slices.Equal(vs[0].Values, v1) {
			t.Fatalf("MemoryVectors(a, 3) = %+v, %v; want m1 %v", vs, err, v1)
		}
		if vs, _ := s.MemoryVectors(ctx, bob, "n", "a", 3); len(vs) != 0 {
			t.Errorf("bob sees alice's vectors: %+v", vs)
		}
		ms, err := s.GetMemories(ctx, alice, []string{"m3", "nope", "m1"})
		if err != nil || !slices.Equal(memIDs(ms), []string{"m3", "m1"}) {
			t.Errorf("GetMemories = %v, %v; want [m3 m1]", memIDs(ms), err)
		}
		if ms, _ := s.GetMemories(ctx, bob, []string{"m1"}); len(ms) != 0 {
			t.Errorf("bob GetMemories(alice's) = %v", memIDs(ms))
		}
		// An update without a vector drops the old one; with one, replaces it.
		m, _ := s.GetMemory(ctx, alice, "m1")
		m.Text = "one, changed"
		if err := s.UpdateMemory(ctx, alice, m); err != nil {
			t.Fatal(err)
		}
		if vs, _ := s.MemoryVectors(ctx, alice, "n", "a", 3); len(vs) != 0 {
			t.Errorf("vector after update without one: %+v", vs)
		}
		m.Vector = &store.Vector{Model: "a", Values: []float32{1, 2, 3}}
		if err := s.UpdateMemory(ctx, alice, m); err != nil {
			t.Fatal(err)
		}
		if vs, _ := s.MemoryVectors(ctx, alice, "n", "a", 3); len(vs) != 1 || !slices.Equal(vs[0].Values, []float32{1, 2, 3}) {
			t.Errorf("vector after update with one = %+v", vs)
		}
		if err := s.DeleteMemory(ctx, alice, "m1"); err != nil {
			t.Fatal(err)
		}
		if vs, _ := s.MemoryVectors(ctx, alice, "n", "a", 3); len(vs) != 0 {
			t.Errorf("vector after delete: %+v", vs)
		}
		if n, err := s.DeleteMemories(ctx, alice, "n"); err != nil || n != 2 {
			t.Errorf("DeleteMemories = %d, %v", n, err)
		}
		if vs, _ := s.MemoryVectors(ctx, alice, "n", "b", 3); len(vs) != 0 {
			t.Errorf("vector after namespace delete: %+v", vs)
		}
		if m, err := s.MemoryWithText(ctx, alice, "n", "two"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("MemoryWithText after delete = %+v, %v", m, err)
		}
	})
}
