package store_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/causeway-ai/causeway/internal/store"
	"github.com/causeway-ai/causeway/internal/store/storetest"
)

func item(id string) store.Item {
	return store.Item{ID: id, Type: "message", Body: json.RawMessage(fmt.Sprintf(`{"id":%q,"type":"message"}`, id))}
}

func ids(items []store.Item) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = it.ID
	}
	return out
}

func TestResponses(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		alice := store.Owner{Tenant: "t1", Subject: "alice"}
		bob := store.Owner{Tenant: "t1", Subject: "bob"}
		other := store.Owner{Tenant: "t2", Subject: "alice"}

		r := &store.Response{ID: "resp_1", Model: "m", Status: "completed", Store: true,
			Body: json.RawMessage(`{"id":"resp_1"}`), Metadata: json.RawMessage(`{"k":"v"}`)}
		in := []store.Item{item("msg_a"), item("msg_b"), item("msg_c")}
		out := []store.Item{item("msg_d")}
		events := []json.RawMessage{json.RawMessage(`{"sequence_number":0}`), json.RawMessage(`{"sequence_number":1}`)}
		if err := s.SaveResponse(ctx, alice, r, in, out, events); err != nil {
			t.Fatalf("SaveResponse: %v", err)
		}
		got, err := s.GetResponse(ctx, alice, "resp_1")
		if err != nil {
			t.Fatalf("GetResponse: %v", err)
		}
		if string(got.Body) != `{"id":"resp_1"}` || got.Model != "m" || !got.Store || string(got.Metadata) != `{"k":"v"}` {
			t.Errorf("GetResponse = %+v, want what was saved", got)
		}
		for _, o := range []store.Owner{bob, other} {
			if _, err := s.GetResponse(ctx, o, "resp_1"); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("GetResponse as %v: %v, want ErrNotFound", o, err)
			}
			if _, _, err := s.ResponseItems(ctx, o, "resp_1", store.KindInput, store.Page{}); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("ResponseItems as %v: %v, want ErrNotFound", o, err)
			}
			if err := s.DeleteResponse(ctx, o, "resp_1"); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("DeleteResponse as %v: %v, want ErrNotFound", o, err)
			}
			if _, err := s.FindItem(ctx, o, "msg_a"); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("FindItem as %v: %v, want ErrNotFound", o, err)
			}
		}

		page, more, err := s.ResponseItems(ctx, alice, "resp_1", store.KindInput, store.Page{Limit: 2, Desc: true})
		if err != nil || fmt.Sprint(ids(page)) != "[msg_c msg_b]" || !more {
			t.Errorf("first desc page = %v, %v, %v; want [msg_c msg_b], true", ids(page), more, err)
		}
		page, more, err = s.ResponseItems(ctx, alice, "resp_1", store.KindInput, store.Page{After: "msg_b", Limit: 2, Desc: true})
		if err != nil || fmt.Sprint(ids(page)) != "[msg_a]" || more {
			t.Errorf("second desc page = %v, %v, %v; want [msg_a], false", ids(page), more, err)
		}
		page, _, err = s.ResponseItems(ctx, alice, "resp_1", store.KindInput, store.Page{After: "msg_a"})
		if err != nil || fmt.Sprint(ids(page)) != "[msg_b msg_c]" {
			t.Errorf("asc after msg_a = %v, %v; want [msg_b msg_c]", ids(page), err)
		}
		page, _, err = s.ResponseItems(ctx, alice, "resp_1", store.KindOutput, store.Page{})
		if err != nil || fmt.Sprint(ids(page)) != "[msg_d]" {
			t.Errorf("output = %v, %v; want [msg_d]", ids(page), err)
		}
		if it, err := s.FindItem(ctx, alice, "msg_d"); err != nil || it.Type != "message" {
			t.Errorf("FindItem = %+v, %v", it, err)
		}
		evs, err := s.ResponseEvents(ctx, alice, "resp_1", 0)
		if err != nil || len(evs) != 1 || string(evs[0]) != `{"sequence_number":1}` {
			t.Errorf("ResponseEvents after 0 = %s, %v; want the second event", evs, err)
		}

		if err := s.DeleteResponse(ctx, alice, "resp_1"); err != nil {
			t.Fatalf("DeleteResponse: %v", err)
		}
		if _, err := s.GetResponse(ctx, alice, "resp_1"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetResponse after delete: %v, want ErrNotFound", err)
		}
		if _, err := s.FindItem(ctx, alice, "msg_a"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("FindItem after delete: %v, want ErrNotFound (items deleted)", err)
		}
	})
}

func TestConversations(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		alice := store.Owner{Tenant: "t1", Subject: "alice"}
		bob := store.Owner{Tenant: "t1", Subject: "bob"}
		other := store.Owner{Tenant: "t2", Subject: "alice"}

		c := &store.Conversation{ID: "conv_1", Metadata: json.RawMessage(`{"topic":"x"}`)}
		if err := s.CreateConversation(ctx, alice, c, []store.Item{item("msg_1")}); err != nil {
			t.Fatalf("CreateConversation: %v", err)
		}
		if err := s.AddConversationItems(ctx, alice, "conv_1", []store.Item{item("msg_2")}); err != nil {
			t.Fatalf("AddConversationItems: %v", err)
		}
		r := &store.Response{ID: "resp_c", ConversationID: "conv_1", Store: true}
		if err := s.SaveResponse(ctx, alice, r, []store.Item{item("msg_3")}, []store.Item{item("msg_4")}, nil); err != nil {
			t.Fatalf("SaveResponse in conversation: %v", err)
		}
		bad := &store.Response{ID: "resp_bad", ConversationID: "conv_1", Store: true}
		if err := s.SaveResponse(ctx, bob, bad, nil, []store.Item{item("msg_x")}, nil); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("SaveResponse into another's conversation: %v, want ErrNotFound", err)
		}
		page, more, err := s.ConversationItems(ctx, alice, "conv_1", store.Page{Limit: 10})
		if err != nil || fmt.Sprint(ids(page)) != "[msg_1 msg_2 msg_3 msg_4]" || more {
			t.Errorf("ConversationItems = %v, %v, %v; want [msg_1 msg_2 msg_3 msg_4]", ids(page), more, err)
		}
		if page[3].ResponseID != "resp_c" {
			t.Errorf("item added by a response has ResponseID %q, want resp_c", page[3].ResponseID)
		}
		for _, o := range []store.Owner{bob, other} {
			if _, err := s.GetConversation(ctx, o, "conv_1"); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("GetConversation as %v: %v, want ErrNotFound", o, err)
			}
			if _, _, err := s.ConversationItems(ctx, o, "conv_1", store.Page{}); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("ConversationItems as %v: %v, want ErrNotFound", o, err)
			}
			if _, err := s.ConversationItem(ctx, o, "conv_1", "msg_1"); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("ConversationItem as %v: %v, want ErrNotFound", o, err)
			}
			if err := s.AddConversationItems(ctx, o, "conv_1", []store.Item{item("msg_z")}); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("AddConversationItems as %v: %v, want ErrNotFound", o, err)
			}
			if _, err := s.UpdateConversation(ctx, o, "conv_1", nil); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("UpdateConversation as %v: %v, want ErrNotFound", o, err)
			}
			if _, err := s.DeleteConversation(ctx, o, "conv_1"); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("DeleteConversation as %v: %v, want ErrNotFound", o, err)
			}
		}
		up, err := s.UpdateConversation(ctx, alice, "conv_1", json.RawMessage(`{"topic":"y"}`))
		if err != nil || string(up.Metadata) != `{"topic":"y"}` {
			t.Errorf("UpdateConversation = %+v, %v", up, err)
		}
		if err := s.DeleteConversationItem(ctx, alice, "conv_1", "msg_2"); err != nil {
			t.Errorf("DeleteConversationItem: %v", err)
		}
		if _, err := s.ConversationItem(ctx, alice, "conv_1", "msg_2"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("deleted item: %v, want ErrNotFound", err)
		}
		if _, err := s.DeleteConversation(ctx, alice, "conv_1"); err != nil {
			t.Fatalf("DeleteConversation: %v", err)
		}
		if _, _, err := s.ConversationItems(ctx, alice, "conv_1", store.Page{}); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("items of a deleted conversation: %v, want ErrNotFound", err)
		}
		if it, err := s.FindItem(ctx, alice, "msg_1"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("FindItem msg_1 after delete = %+v, %v; want ErrNotFound (items deleted)", it, err)
		}
		// The responses made in it go with it (TestDeleteConversationCascade).
		if _, err := s.FindItem(ctx, alice, "msg_3"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("FindItem msg_3 (the response's own input) after delete: %v, want ErrNotFound", err)
		}
	})
}

// TestConversationConcurrentAppends checks appends racing on one
// conversation each get their own place.
func TestConversationConcurrentAppends(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		o := store.Owner{Tenant: "t1", Subject: "alice"}
		if err := s.CreateConversation(ctx, o, &store.Conversation{ID: "conv_c"}, nil); err != nil {
			t.Fatal(err)
		}
		const n = 8
		errs := make(chan error, n)
		for i := range n {
			go func() {
				errs <- s.AddConversationItems(ctx, o, "conv_c", []store.Item{item(fmt.Sprint("msg_", i))})
			}()
		}
		for range n {
			if err := <-errs; err != nil {
				t.Errorf("concurrent append: %v", err)
			}
		}
		items, _, err := s.ConversationItems(ctx, o, "conv_c", store.Page{})
		if err != nil || len(items) != n {
			t.Errorf("items = %d, %v; want %d", len(items), err, n)
		}
	})
}
