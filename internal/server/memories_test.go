package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/conversations"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/responses"

	"github.com/causeway-ai/causeway/internal/memory"
	"github.com/causeway-ai/causeway/internal/server"
	"github.com/causeway-ai/causeway/internal/server/servertest"
)

// memEnv is a Causeway with three principals: alice and bob in the
// default tenant, and another "alice" in tenant t2.
type memEnv struct {
	e                *servertest.Env
	alice, bob, alt2 openai.Client
}

func startMemories(t *testing.T, kind string) memEnv {
	t.Helper()
	e := servertest.Start(t, servertest.Options{Store: kind})
	_, ka := e.CreateKey(t, server.KeyRequest{Name: "alice", User: "alice"})
	_, kb := e.CreateKey(t, server.KeyRequest{Name: "bob", User: "bob"})
	var v server.KeyView
	if st := e.Admin(t, http.MethodPost, "/admin/v1/keys?tenant=t2", server.KeyRequest{Name: "alice2", User: "alice"}, &v); st != http.StatusCreated {
		t.Fatalf("create t2 key: status %d", st)
	}
	return memEnv{e: e, alice: newClient(e.URL, ka), bob: newClient(e.URL, kb), alt2: newClient(e.URL, v.Key)}
}

func createMemory(t *testing.T, c openai.Client, body map[string]any) memory.Record {
	t.Helper()
	var rec memory.Record
	if err := c.Post(context.Background(), "memories", body, &rec); err != nil {
		t.Fatalf("create memory %v: %v", body, err)
	}
	return rec
}

func search(t *testing.T, c openai.Client, body map[string]any) []string {
	t.Helper()
	var res memory.Results
	if err := c.Post(context.Background(), "memories/search", body, &res); err != nil {
		t.Fatalf("search %v: %v", body, err)
	}
	var out []string
	for _, h := range res.Data {
		out = append(out, h.Memory.ID)
	}
	return out
}

func TestMemoriesAPI(t *testing.T) {
	forStores(t, func(t *testing.T, kind string) {
		env := startMemories(t, kind)
		ctx := context.Background()
		c := env.alice
		bees := createMemory(t, c, map[string]any{"text": "Alice keeps bees on the roof of her flat in Lisbon.",
			"metadata": map[string]string{"source": "chat"}, "source_item_ids": []string{"msg_1"}})
		if !strings.HasPrefix(bees.ID, "mem_") || bees.Object != "memory" || bees.Namespace != "default" ||
			bees.Metadata["source"] != "chat" || !slices.Equal(bees.SourceItemIDs, []string{"msg_1"}) || bees.CreatedAt == 0 {
			t.Errorf("created = %+v", bees)
		}
		teal := createMemory(t, c, map[string]any{"text": "Alice's favourite colour is teal."})
		nuts := createMemory(t, c, map[string]any{"text": "Alice is allergic to peanuts."})
		work := createMemory(t, c, map[string]any{"namespace": "work", "text": "Alice manages the bees project."})

		var got memory.Record
		if err := c.Get(ctx, "memories/"+teal.ID, nil, &got); err != nil || got.Text != teal.Text || got.ID != teal.ID {
			t.Errorf("GET = %+v, %v; want %+v", got, err, teal)
		}

		// Pages, newest first by default.
		var pg memory.Page
		if err := c.Get(ctx, "memories?limit=2", nil, &pg); err != nil || len(pg.Data) != 2 || !pg.HasMore ||
			pg.Data[0].ID != nuts.ID || pg.Data[1].ID != teal.ID || pg.LastID == nil || *pg.LastID != teal.ID {
			t.Fatalf("page 1 = %+v, %v; want nuts, teal, has_more", pg, err)
		}
		var pg2 memory.Page
		if err := c.Get(ctx, "memories?limit=2&after="+*pg.LastID, nil, &pg2); err != nil || len(pg2.Data) != 1 || pg2.HasMore || pg2.Data[0].ID != bees.ID {
			t.Errorf("page 2 = %+v, %v; want bees only", pg2, err)
		}
		var wp memory.Page
		if err := c.Get(ctx, "memories?namespace=work&order=asc", nil, &wp); err != nil || len(wp.Data) != 1 || wp.Data[0].ID != work.ID {
			t.Errorf("work namespace = %+v, %v", wp, err)
		}

		// Search ranks the memory with the query's words first.
		if ids := search(t, c, map[string]any{"query": "Where does Alice keep her bees?"}); len(ids) != 3 || ids[0] != bees.ID {
			t.Errorf("search(bees) = %v; want %s first of alice's 3 default memories", ids, bees.ID)
		}
		if ids := search(t, c, map[string]any{"query": "peanut allergy", "limit": 1}); !slices.Equal(ids, []string{nuts.ID}) {
			t.Errorf("search(peanut, limit 1) = %v; want [%s]", ids, nuts.ID)
		}
		if ids := search(t, c, map[string]any{"query": "bees", "namespace": "work"}); !slices.Equal(ids, []string{work.ID}) {
			t.Errorf("search(work) = %v; want [%s]", ids, work.ID)
		}
		var res memory.Results
		if err := c.Post(ctx, "memories/search", map[string]any{"query": "teal colour"}, &res); err != nil ||
			len(res.Data) == 0 || res.Data[0].Memory.ID != teal.ID || res.Data[0].Score <= 0 {
			t.Errorf("search(teal) = %+v, %v; want teal first with a positive score", res, err)
		}

		// PATCH replaces what it names and re-indexes the text.
		var upd memory.Record
		if err := c.Patch(ctx, "memories/"+teal.ID, map[string]any{"text": "Alice's favourite colour is orange now.", "metadata": map[string]string{"v": "2"}}, &upd); err != nil ||
			upd.Text != "Alice's favourite colour is orange now." || upd.Metadata["v"] != "2" || upd.CreatedAt != teal.CreatedAt {
			t.Errorf("PATCH = %+v, %v", upd, err)
		}
		if ids := search(t, c, map[string]any{"query": "teal"}); len(ids) != 0 {
			t.Errorf("search(teal) after PATCH = %v, want none", ids)
		}
		if ids := search(t, c, map[string]any{"query": "orange"}); !slices.Equal(ids, []string{teal.ID}) {
			t.Errorf("search(orange) after PATCH = %v, want [%s]", ids, teal.ID)
		}

		// DELETE one, then a whole namespace.
		var del memory.Deleted
		if err := c.Delete(ctx, "memories/"+bees.ID, nil, &del); err != nil || !del.Deleted || del.ID != bees.ID {
			t.Errorf("DELETE = %+v, %v", del, err)
		}
		if err := c.Get(ctx, "memories/"+bees.ID, nil, &got); oaiStatus(err) != 404 {
			t.Errorf("GET deleted: %v, want 404", err)
		}
		var nd memory.NamespaceDeleted
		if err := c.Delete(ctx, "memories?namespace=default", nil, &nd); err != nil || nd.Deleted != 2 || nd.Namespace != "default" {
			t.Errorf("DELETE namespace = %+v, %v; want 2 deleted", nd, err)
		}
		if err := c.Get(ctx, "memories", nil, &pg); err != nil || len(pg.Data) != 0 || pg.HasMore {
			t.Errorf("list after namespace delete = %+v, %v; want empty", pg, err)
		}
		if err := c.Get(ctx, "memories/"+work.ID, nil, &got); err != nil {
			t.Errorf("work memory after default namespace delete: %v", err)
		}
	})
}

func TestMemoriesPartition(t *testing.T) {
	forStores(t, func(t *testing.T, kind string) {
		env := startMemories(t, kind)
		ctx := context.Background()
		mine := createMemory(t, env.alice, map[string]any{"text": "The launch code is swordfish."})
		bobs := createMemory(t, env.bob, map[string]any{"text": "Bob's launch code is marlin."})
		alt := createMemory(t, env.alt2, map[string]any{"text": "Tenant two's launch code is tuna."})

		for name, c := range map[string]openai.Client{"bob": env.bob, "t2 alice": env.alt2} {
			var got memory.Record
			if err := c.Get(ctx, "memories/"+mine.ID, nil, &got); oaiStatus(err) != 404 {
				t.Errorf("%s GET alice's memory: %v, want 404", name, err)
			}
			if err := c.Patch(ctx, "memories/"+mine.ID, map[string]any{"text": "stolen"}, &got); oaiStatus(err) != 404 {
				t.Errorf("%s PATCH alice's memory: %v, want 404", name, err)
			}
			var del memory.Deleted
			if err := c.Delete(ctx, "memories/"+mine.ID, nil, &del); oaiStatus(err) != 404 {
				t.Errorf("%s DELETE alice's memory: %v, want 404", name, err)
			}
			var pg memory.Page
			if err := c.Get(ctx, "memories?after="+mine.ID, nil, &pg); oaiStatus(err) != 404 {
				t.Errorf("%s list after alice's id: %v, want 404", name, err)
			}
		}
		for _, c := range []struct {
			name string
			c    openai.Client
			want string
		}{{"alice", env.alice, mine.ID}, {"bob", env.bob, bobs.ID}, {"t2 alice", env.alt2, alt.ID}} {
			if ids := search(t, c.c, map[string]any{"query": "launch code swordfish marlin tuna", "limit": 50}); !slices.Equal(ids, []string{c.want}) {
				t.Errorf("%s search = %v, want only [%s]", c.name, ids, c.want)
			}
			var pg memory.Page
			if err := c.c.Get(ctx, "memories", nil, &pg); err != nil || len(pg.Data) != 1 || pg.Data[0].ID != c.want {
				t.Errorf("%s list = %+v, %v; want only [%s]", c.name, pg, err, c.want)
			}
		}
		// Bob deleting "his" default namespace leaves alice's alone.
		var nd memory.NamespaceDeleted
		if err := env.bob.Delete(ctx, "memories?namespace=default", nil, &nd); err != nil || nd.Deleted != 1 {
			t.Errorf("bob DELETE namespace = %+v, %v; want 1", nd, err)
		}
		var got memory.Record
		if err := env.alice.Get(ctx, "memories/"+mine.ID, nil, &got); err != nil {
			t.Errorf("alice's memory after bob's namespace delete: %v", err)
		}
	})
}

func TestMemoriesBadInput(t *testing.T) {
	env := startMemories(t, "sqlite")
	ctx := context.Background()
	c := env.alice
	many := map[string]string{}
	for i := range 17 {
		many[fmt.Sprint("k", i)] = "v"
	}
	rec := createMemory(t, c, map[string]any{"text": "something to patch"})
	for _, tc := range []struct {
		name, method, path string
		body               any
		param, code        string
	}{
		{"empty text", "POST", "memories", map[string]any{"text": ""}, "text", "empty_string"},
		{"blank text", "POST", "memories", map[string]any{"text": "  \n "}, "text", "empty_string"},
		{"no text", "POST", "memories", map[string]any{"namespace": "x"}, "text", "empty_string"},
		{"17 metadata pairs", "POST", "memories", map[string]any{"text": "x", "metadata": many}, "metadata", "object_above_max_properties"},
		{"long metadata key", "POST", "memories", map[string]any{"text": "x", "metadata": map[string]string{strings.Repeat("k", 65): "v"}}, "metadata", "invalid_metadata"},
		{"long metadata value", "POST", "memories", map[string]any{"text": "x", "metadata": map[string]string{"k": strings.Repeat("v", 513)}}, "metadata.k", "string_above_max_length"},
		{"text too long", "POST", "memories", map[string]any{"text": strings.Repeat("a", memory.MaxText+1)}, "text", "string_above_max_length"},
		{"long namespace", "POST", "memories", map[string]any{"text": "x", "namespace": strings.Repeat("n", 65)}, "namespace", "string_above_max_length"},
		{"empty source id", "POST", "memories", map[string]any{"text": "x", "source_item_ids": []string{""}}, "source_item_ids[0]", "invalid_value"},
		{"metadata not an object", "POST", "memories", map[string]any{"text": "x", "metadata": "oops"}, "metadata", "invalid_type"},
		{"unknown field", "POST", "memories", map[string]any{"text": "x", "txet": "y"}, "", "invalid_json"},
		{"search limit 51", "POST", "memories/search", map[string]any{"query": "x", "limit": 51}, "limit", "invalid_value"},
		{"search limit 0", "POST", "memories/search", map[string]any{"query": "x", "limit": 0}, "limit", "invalid_value"},
		{"search no query", "POST", "memories/search", map[string]any{"limit": 5}, "query", "empty_string"},
		{"list limit 101", "GET", "memories?limit=101", nil, "limit", "invalid_value"},
		{"list bad order", "GET", "memories?order=up", nil, "order", "invalid_value"},
		{"delete without namespace", "DELETE", "memories", nil, "namespace", "missing_required_parameter"},
		{"patch empty text", "PATCH", "memories/" + rec.ID, map[string]any{"text": ""}, "text", "empty_string"},
		{"patch 17 metadata pairs", "PATCH", "memories/" + rec.ID, map[string]any{"metadata": many}, "metadata", "object_above_max_properties"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out map[string]any
			err := c.Execute(ctx, tc.method, tc.path, tc.body, &out)
			apiErr, ok := err.(*openai.Error)
			if !ok || apiErr.StatusCode != 400 || apiErr.Param != tc.param || apiErr.Code != tc.code || apiErr.Type != "invalid_request_error" || apiErr.Message == "" {
				t.Errorf("got %v (%#v), want 400 invalid_request_error param %q code %q", err, apiErr, tc.param, tc.code)
			}
		})
	}
	// Nothing invalid was stored, and the PATCHed memory is unchanged.
	var pg memory.Page
	if err := c.Get(ctx, "memories", nil, &pg); err != nil || len(pg.Data) != 1 || pg.Data[0].Text != "something to patch" {
		t.Errorf("after bad input, list = %+v, %v; want only the first memory, unchanged", pg, err)
	}
	st, _, body := env.e.Post(t, "", "/v1/memories", `{"text":"x"}`)
	if st != 401 || !strings.Contains(string(body), `"error"`) {
		t.Errorf("no key: %d %s, want 401 with an OpenAI error", st, body)
	}
	var got memory.Record
	if err := c.Get(ctx, "memories/mem_nope", nil, &got); oaiStatus(err) != 404 {
		t.Errorf("unknown id: %v, want 404", err)
	}
}

// counts is what the API shows of one subject's stored state, to check an
// erasure receipt against.
func stateCounts(t *testing.T, c openai.Client, respIDs []string, streamed string, convID string) memory.ErasedCounts {
	t.Helper()
	ctx := context.Background()
	var n memory.ErasedCounts
	for _, id := range respIDs {
		r, err := c.Responses.Get(ctx, id, responses.ResponseGetParams{})
		if err != nil {
			t.Fatalf("get %s: %v", id, err)
		}
		in, err := c.Responses.InputItems.List(ctx, id, responses.InputItemListParams{Limit: openai.Int(100)})
		if err != nil {
			t.Fatalf("input items %s: %v", id, err)
		}
		n.Responses++
		n.Items += int64(len(in.Data) + len(r.Output))
	}
	rp := c.Responses.GetStreaming(ctx, streamed, responses.ResponseGetParams{})
	for rp.Next() {
		n.Events++
	}
	if err := rp.Err(); err != nil || n.Events == 0 {
		t.Fatalf("replay %s: %d events, %v", streamed, n.Events, err)
	}
	items, err := c.Conversations.Items.List(ctx, convID, conversations.ItemListParams{Limit: openai.Int(100)})
	if err != nil {
		t.Fatalf("conversation items: %v", err)
	}
	n.Conversations = 1
	n.Items += int64(len(items.Data))
	return n
}

func TestEraseReceipt(t *testing.T) {
	forStores(t, func(t *testing.T, kind string) {
		env := startMemories(t, kind)
		ctx := context.Background()
		seed := func(c openai.Client) (respIDs []string, streamed, convID string) {
			t.Helper()
			r1, err := c.Responses.New(ctx, responses.ResponseNewParams{Model: "sim-openai", Input: textInput("Hello")})
			if err != nil {
				t.Fatalf("response: %v", err)
			}
			st := c.Responses.NewStreaming(ctx, responses.ResponseNewParams{Model: "sim-openai", Input: textInput("Stream please")})
			for st.Next() {
				if ev := st.Current(); ev.Type == "response.completed" {
					streamed = ev.Response.ID
				}
			}
			if err := st.Err(); err != nil || streamed == "" {
				t.Fatalf("stream: %v (id %q)", err, streamed)
			}
			conv, err := c.Conversations.New(ctx, conversations.ConversationNewParams{
				Items: []responses.ResponseInputItemUnionParam{responses.ResponseInputItemParamOfMessage("Be brief.", responses.EasyInputMessageRoleDeveloper)}})
			if err != nil {
				t.Fatalf("conversation: %v", err)
			}
			r3, err := c.Responses.New(ctx, responses.ResponseNewParams{Model: "sim-openai", Input: textInput("In the conversation"),
				Conversation: responses.ResponseNewParamsConversationUnion{OfString: openai.String(conv.ID)}})
			if err != nil {
				t.Fatalf("conversation response: %v", err)
			}
			for _, txt := range []string{"likes tea", "lives in Oslo", "has a cat"} {
				createMemory(t, c, map[string]any{"text": txt})
			}
			createMemory(t, c, map[string]any{"text": "project notes", "namespace": "work"})
			return []string{r1.ID, streamed, r3.ID}, streamed, conv.ID
		}
		aIDs, aStreamed, aConv := seed(env.alice)
		bIDs, _, bConv := seed(env.bob)
		t2IDs, _, _ := seed(env.alt2)

		want := stateCounts(t, env.alice, aIDs, aStreamed, aConv)
		want.Memories = 4
		// The fixed shape of the seed: 3 responses with one input and one
		// output item each, the conversation's developer message and its
		// response's two items.
		if want.Items != 3*2+3 {
			t.Errorf("alice's items by the API = %d, want 9", want.Items)
		}

		// Only the admin key may erase.
		if err := env.alice.Post(ctx, "admin/v1/erase", map[string]any{"user": "bob"}, nil, option.WithBaseURL(env.e.URL+"/")); oaiStatus(err) != 401 {
			t.Errorf("erase with a user key: %v, want 401", err)
		}
		if st := env.e.Admin(t, http.MethodPost, "/admin/v1/erase", map[string]any{}, nil); st != 400 {
			t.Errorf("erase without user: status %d, want 400", st)
		}

		var rc memory.Receipt
		if st := env.e.Admin(t, http.MethodPost, "/admin/v1/erase", map[string]any{"user": "alice"}, &rc); st != 200 {
			t.Fatalf("erase: status %d", st)
		}
		if rc.Object != "erasure_receipt" || rc.Tenant != "default" || rc.Subject != "alice" || rc.At == 0 || rc.Deleted != want {
			t.Errorf("receipt = %+v, want object erasure_receipt, tenant default, subject alice, deleted %+v", rc, want)
		}

		// Alice's state is gone; bob's and tenant t2's alice's is not.
		for _, id := range aIDs {
			if _, err := env.alice.Responses.Get(ctx, id, responses.ResponseGetParams{}); oaiStatus(err) != 404 {
				t.Errorf("alice's response %s after erasure: %v, want 404", id, err)
			}
		}
		if _, err := env.alice.Conversations.Get(ctx, aConv); oaiStatus(err) != 404 {
			t.Errorf("alice's conversation after erasure: %v, want 404", err)
		}
		var pg memory.Page
		if err := env.alice.Get(ctx, "memories", nil, &pg); err != nil || len(pg.Data) != 0 {
			t.Errorf("alice's memories after erasure = %+v, %v; want none", pg, err)
		}
		if ids := search(t, env.alice, map[string]any{"query": "notes", "namespace": "work"}); len(ids) != 0 {
			t.Errorf("alice's work memories after erasure = %v, want none", ids)
		}
		for name, c := range map[string]struct {
			c   openai.Client
			ids []string
		}{"bob": {env.bob, bIDs}, "t2 alice": {env.alt2, t2IDs}} {
			for _, id := range c.ids {
				if _, err := c.c.Responses.Get(ctx, id, responses.ResponseGetParams{}); err != nil {
					t.Errorf("%s's response %s after alice's erasure: %v", name, id, err)
				}
			}
			if ids := search(t, c.c, map[string]any{"query": "tea Oslo cat"}); len(ids) != 3 {
				t.Errorf("%s's memories after alice's erasure = %v, want 3", name, ids)
			}
		}
		if _, err := env.bob.Conversations.Get(ctx, bConv); err != nil {
			t.Errorf("bob's conversation after alice's erasure: %v", err)
		}

		// The tenant in the body picks tenant t2's alice; erasing again
		// finds nothing.
		var rc2 memory.Receipt
		if st := env.e.Admin(t, http.MethodPost, "/admin/v1/erase", map[string]any{"tenant": "t2", "user": "alice"}, &rc2); st != 200 ||
			rc2.Tenant != "t2" || rc2.Deleted.Responses != 3 || rc2.Deleted.Memories != 4 {
			t.Errorf("erase t2 alice: status %d, receipt %+v", st, rc2)
		}
		var rc3 memory.Receipt
		if st := env.e.Admin(t, http.MethodPost, "/admin/v1/erase", map[string]any{"user": "alice"}, &rc3); st != 200 || rc3.Deleted != (memory.ErasedCounts{}) {
			t.Errorf("second erase: status %d, receipt %+v; want all zero", st, rc3)
		}
	})
}

// TestMemoryRecalledIntoResponse: a response that asks for memory gets the
// caller's matching memories in its context (the upstream prompt grows by
// them), names them in "causeway.memories", and never another subject's.
func TestMemoryRecalledIntoResponse(t *testing.T) {
	e := servertest.Start(t, servertest.Options{})
	_, alice := e.CreateKey(t, server.KeyRequest{Name: "alice", User: "alice"})
	_, bob := e.CreateKey(t, server.KeyRequest{Name: "bob", User: "bob"})
	mem := func(key, text string) string {
		status, _, b := e.Post(t, key, "/v1/memories", `{"text":"`+text+`"}`)
		if status != 201 {
			t.Fatalf("create memory: %d %s", status, b)
		}
		var r struct{ ID string }
		_ = json.Unmarshal(b, &r)
		return r.ID
	}
	aliceMem := mem(alice, "My favourite bridge is the Golden Gate bridge in San Francisco")
	mem(bob, "Bob's favourite bridge is the Tower Bridge in London")
	ask := func(body string) (int64, []string) {
		before := e.Sim.Stats().InputTokens["gpt-4.1-mini"]
		status, _, b := e.Post(t, alice, "/v1/responses", body)
		if status != 200 {
			t.Fatalf("create response: %d %s", status, b)
		}
		var r struct {
			Causeway struct{ Memories []string } `json:"causeway"`
		}
		_ = json.Unmarshal(b, &r)
		return e.Sim.Stats().InputTokens["gpt-4.1-mini"] - before, r.Causeway.Memories
	}
	plainIn, none := ask(`{"model":"sim-openai","input":"Which bridge do I like best?"}`)
	withIn, ids := ask(`{"model":"sim-openai","input":"Which bridge do I like best?","memory":{"k":5}}`)
	if len(none) != 0 {
		t.Fatalf("memories recalled without asking: %v", none)
	}
	if len(ids) != 1 || ids[0] != aliceMem {
		t.Fatalf("recalled %v, want only alice's memory %s", ids, aliceMem)
	}
	if withIn <= plainIn {
		t.Fatalf("upstream input tokens with memory %d ≤ without %d: the memory did not reach the model", withIn, plainIn)
	}
	if status, _, _ := e.Post(t, alice, "/v1/responses", `{"model":"sim-openai","input":"x","memory":{"k":50}}`); status != 400 {
		t.Fatalf("memory.k 50: status %d, want 400", status)
	}
}
