package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/conversations"
	"github.com/openai/openai-go/v3/responses"
	"github.com/openai/openai-go/v3/shared"

	respdoor "github.com/causeway-ai/causeway/internal/frontdoor/responses"
	"github.com/causeway-ai/causeway/internal/server"
)

// raw sends a request with key and returns the status and body.
func raw(t *testing.T, method, url, key, body string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, b
}

type listPage struct {
	Object  string            `json:"object"`
	Data    []json.RawMessage `json:"data"`
	FirstID *string           `json:"first_id"`
	LastID  *string           `json:"last_id"`
	HasMore bool              `json:"has_more"`
}

func (l listPage) ids(t *testing.T) []string {
	t.Helper()
	var ids []string
	for _, d := range l.Data {
		var v struct {
			ID     string `json:"id"`
			Object string `json:"object"`
		}
		if err := json.Unmarshal(d, &v); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, v.ID)
	}
	return ids
}

func getList(t *testing.T, base, key, path string) listPage {
	t.Helper()
	st, _, b := raw(t, http.MethodGet, base+path, key, "")
	if st != 200 {
		t.Fatalf("GET %s: %d %s", path, st, b)
	}
	var l listPage
	if err := json.Unmarshal(b, &l); err != nil {
		t.Fatalf("GET %s: %v in %s", path, err, b)
	}
	if l.Object != "list" {
		t.Errorf("GET %s: object %q, want list", path, l.Object)
	}
	return l
}

// allPages follows the cursor of path (which has a query) with limit 2.
func allPages(t *testing.T, base, key, path string) []string {
	t.Helper()
	var ids []string
	after := ""
	for range 50 {
		l := getList(t, base, key, path+"&limit=2"+after)
		if len(l.Data) > 2 {
			t.Fatalf("page of %d with limit 2", len(l.Data))
		}
		ids = append(ids, l.ids(t)...)
		if len(l.Data) > 0 && (l.FirstID == nil || *l.FirstID != l.ids(t)[0] || l.LastID == nil || *l.LastID != ids[len(ids)-1]) {
			t.Errorf("first_id/last_id = %v/%v, want the page's ends %v", l.FirstID, l.LastID, l.ids(t))
		}
		if !l.HasMore {
			return ids
		}
		after = "&after=" + *l.LastID
	}
	t.Fatal("paging did not end")
	return nil
}

func TestListOwnResponsesAndConversations(t *testing.T) {
	forStores(t, func(t *testing.T, kind string) {
		env := startResponses(t, kind)
		ctx := context.Background()
		_, bobKey := env.e.CreateKey(t, server.KeyRequest{Name: "bob", User: "bob"})
		var other server.KeyView
		if st := env.e.Admin(t, http.MethodPost, "/admin/v1/keys?tenant=other", server.KeyRequest{Name: "alice elsewhere", User: "alice"}, &other); st != 201 {
			t.Fatalf("create key in tenant other: %d", st)
		}
		owned := map[string]struct{ resps, convs []string }{}
		for _, who := range []struct {
			name, key string
			n         int
		}{{"alice", env.key, 3}, {"bob", bobKey, 1}, {"other", other.Key, 2}} {
			c := newClient(env.e.URL, who.key)
			var o struct{ resps, convs []string }
			for i := range who.n {
				r, err := c.Responses.New(ctx, responses.ResponseNewParams{Model: "sim-openai", Input: textInput(fmt.Sprintf("%s %d", who.name, i))})
				if err != nil {
					t.Fatalf("%s response: %v", who.name, err)
				}
				o.resps = append(o.resps, r.ID)
				cv, err := c.Conversations.New(ctx, conversations.ConversationNewParams{Metadata: shared.Metadata{"who": who.name}})
				if err != nil {
					t.Fatalf("%s conversation: %v", who.name, err)
				}
				o.convs = append(o.convs, cv.ID)
			}
			owned[who.name] = o
		}
		for _, who := range []struct{ name, key string }{{"alice", env.key}, {"bob", bobKey}, {"other", other.Key}} {
			o := owned[who.name]
			for path, want := range map[string][]string{"/v1/responses": o.resps, "/v1/conversations": o.convs} {
				asc := allPages(t, env.e.URL, who.key, path+"?order=asc")
				if path == "/v1/responses" {
					// A response's created_at has whole seconds, so those
					// made within one second order by id; the set and
					// the paging must still be exact.
					if !sameSet(asc, want) {
						t.Errorf("%s %s asc = %v, want exactly own objects %v", who.name, path, asc, want)
					}
					want = asc
				}
				if !slices.Equal(asc, want) {
					t.Errorf("%s %s asc = %v, want own objects in creation order %v", who.name, path, asc, want)
				}
				desc := getList(t, env.e.URL, who.key, path)
				rev := slices.Clone(want)
				slices.Reverse(rev)
				if got := desc.ids(t); !slices.Equal(got, rev) || desc.HasMore {
					t.Errorf("%s %s default = %v (more %v), want newest first %v", who.name, path, got, desc.HasMore, rev)
				}
				if d := allPages(t, env.e.URL, who.key, path+"?order=desc"); !slices.Equal(d, rev) {
					t.Errorf("%s %s desc pages = %v, want %v", who.name, path, d, rev)
				}
			}
		}
		// The objects are whole: a listed response is the stored response,
		// a listed conversation carries its metadata.
		l := getList(t, env.e.URL, env.key, "/v1/conversations?limit=1")
		var cv struct {
			Object   string            `json:"object"`
			Metadata map[string]string `json:"metadata"`
		}
		if err := json.Unmarshal(l.Data[0], &cv); err != nil || cv.Object != "conversation" || cv.Metadata["who"] != "alice" || !l.HasMore {
			t.Errorf("listed conversation = %s (more %v), want alice's conversation object", l.Data[0], l.HasMore)
		}
		l = getList(t, env.e.URL, env.key, "/v1/responses?limit=1&order=asc")
		var rp struct {
			Object string `json:"object"`
			Status string `json:"status"`
		}
		if err := json.Unmarshal(l.Data[0], &rp); err != nil || rp.Object != "response" || rp.Status != "completed" {
			t.Errorf("listed response = %s, want a completed response object", l.Data[0])
		}
		// Bad pages, and a cursor that is someone else's.
		for _, q := range []string{"?limit=0", "?limit=101", "?order=sideways", "?after=" + owned["bob"].resps[0], "?after=nope"} {
			for _, path := range []string{"/v1/responses", "/v1/conversations"} {
				st, _, b := raw(t, http.MethodGet, env.e.URL+path+q, env.key, "")
				if st != 400 || !strings.Contains(string(b), `"invalid_request_error"`) {
					t.Errorf("GET %s%s: %d %s, want 400 in OpenAI's shape", path, q, st, b)
				}
			}
		}
	})
}

// itemsOf lists a conversation's items oldest first, as JSON objects.
func itemsOf(t *testing.T, c openai.Client, id string) []map[string]any {
	t.Helper()
	l, err := c.Conversations.Items.List(context.Background(), id, conversations.ItemListParams{Order: conversations.ItemListParamsOrderAsc, Limit: openai.Int(100)})
	if err != nil {
		t.Fatalf("items of %s: %v", id, err)
	}
	var out []map[string]any
	for _, it := range l.Data {
		var m map[string]any
		if err := json.Unmarshal([]byte(it.RawJSON()), &m); err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

func TestConversationExportImport(t *testing.T) {
	forStores(t, func(t *testing.T, kind string) {
		env := startResponses(t, kind)
		ctx := context.Background()
		conv, err := env.c.Conversations.New(ctx, conversations.ConversationNewParams{
			Items:    []responses.ResponseInputItemUnionParam{responses.ResponseInputItemParamOfMessage("Be brief.", responses.EasyInputMessageRoleDeveloper)},
			Metadata: shared.Metadata{"topic": "export", "n": "1"},
		})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := env.c.Responses.New(ctx, responses.ResponseNewParams{Model: "sim-openai", Input: textInput("first question"),
			Conversation: responses.ResponseNewParamsConversationUnion{OfString: openai.String(conv.ID)}}); err != nil {
			t.Fatal(err)
		}
		orig := itemsOf(t, env.c, conv.ID)
		if len(orig) != 3 {
			t.Fatalf("conversation has %d items, want 3", len(orig))
		}

		st, hd, body := raw(t, http.MethodGet, env.e.URL+"/v1/conversations/"+conv.ID+"/export", env.key, "")
		if st != 200 || hd.Get("Content-Type") != "application/x-ndjson" {
			t.Fatalf("export: %d %q %s", st, hd.Get("Content-Type"), body)
		}
		lines := strings.Split(strings.TrimSuffix(string(body), "\n"), "\n")
		if len(lines) != 4 {
			t.Fatalf("export has %d lines, want the conversation and 3 items:\n%s", len(lines), body)
		}
		var head struct {
			ID       string            `json:"id"`
			Object   string            `json:"object"`
			Metadata map[string]string `json:"metadata"`
		}
		if err := json.Unmarshal([]byte(lines[0]), &head); err != nil || head.ID != conv.ID || head.Object != "conversation" || head.Metadata["topic"] != "export" {
			t.Errorf("export line 1 = %s, want the conversation object", lines[0])
		}
		for i, line := range lines[1:] {
			var m map[string]any
			if err := json.Unmarshal([]byte(line), &m); err != nil || fmt.Sprint(m) != fmt.Sprint(orig[i]) {
				t.Errorf("export line %d = %s, want item %v", i+2, line, orig[i])
			}
		}

		st, _, created := raw(t, http.MethodPost, env.e.URL+"/v1/conversations/import", env.key, string(body))
		if st != 201 {
			t.Fatalf("import: %d %s", st, created)
		}
		var imp struct {
			ID       string            `json:"id"`
			Object   string            `json:"object"`
			Metadata map[string]string `json:"metadata"`
		}
		if err := json.Unmarshal(created, &imp); err != nil || imp.Object != "conversation" || !strings.HasPrefix(imp.ID, "conv_") || imp.ID == conv.ID {
			t.Fatalf("import = %s, want a new conversation", created)
		}
		if fmt.Sprint(imp.Metadata) != fmt.Sprint(map[string]string{"topic": "export", "n": "1"}) {
			t.Errorf("imported metadata = %v, want the original's", imp.Metadata)
		}
		got := itemsOf(t, env.c, imp.ID)
		if len(got) != len(orig) {
			t.Fatalf("imported %d items, want %d", len(got), len(orig))
		}
		for i := range orig {
			if got[i]["id"] == orig[i]["id"] || got[i]["id"] == "" {
				t.Errorf("imported item %d id %v, want a new id (was %v)", i, got[i]["id"], orig[i]["id"])
			}
			a, b := maps(got[i]), maps(orig[i])
			delete(a, "id")
			delete(b, "id")
			if fmt.Sprint(a) != fmt.Sprint(b) {
				t.Errorf("imported item %d = %v, want %v", i, a, b)
			}
		}
		// The original is untouched, and the copy is a live conversation.
		if n := len(itemsOf(t, env.c, conv.ID)); n != 3 {
			t.Errorf("original has %d items after import, want 3", n)
		}
		r, err := env.c.Responses.New(ctx, responses.ResponseNewParams{Model: "sim-openai", Input: textInput("continue"),
			Conversation: responses.ResponseNewParamsConversationUnion{OfString: openai.String(imp.ID)}})
		if err != nil || r.Status != "completed" {
			t.Fatalf("continue imported conversation: %v", err)
		}
		after := itemsOf(t, env.c, imp.ID)
		if len(after) != 5 || after[3]["role"] != "user" || after[4]["role"] != "assistant" {
			t.Errorf("imported conversation after a response has %d items, want 5 ending user, assistant", len(after))
		}
		if convs := getList(t, env.e.URL, env.key, "/v1/conversations").ids(t); !slices.Contains(convs, imp.ID) || len(convs) != 2 {
			t.Errorf("conversations = %v, want the original and the import", convs)
		}
	})
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

func maps(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func TestConversationImportMalformed(t *testing.T) {
	forStores(t, func(t *testing.T, kind string) {
		env := startResponses(t, kind)
		good := `{"id":"conv_x","object":"conversation","created_at":1,"metadata":{"a":"b"}}` + "\n" +
			`{"type":"message","role":"user","content":[{"type":"input_text","text":"hi"}]}` + "\n"
		for name, tc := range map[string]struct {
			body string
			line string
		}{
			"not JSON":         {good + "{oops\n", "line 3"},
			"bad role":         {good + "\n" + `{"type":"message","role":"robot","content":"x"}` + "\n", "line 4"},
			"unknown type":     {good + `{"type":"telepathy"}`, "line 3"},
			"not conversation": {`{"object":"response"}` + "\n", "line 1"},
			"bad first line":   {"[1,2]\n" + good, "line 1"},
		} {
			st, _, b := raw(t, http.MethodPost, env.e.URL+"/v1/conversations/import", env.key, tc.body)
			var e struct {
				Error struct {
					Message string `json:"message"`
					Type    string `json:"type"`
				} `json:"error"`
			}
			_ = json.Unmarshal(b, &e)
			if st != 400 || e.Error.Type != "invalid_request_error" || !strings.Contains(e.Error.Message, tc.line) {
				t.Errorf("%s: %d %s, want 400 naming %s", name, st, b, tc.line)
			}
		}
		if l := getList(t, env.e.URL, env.key, "/v1/conversations"); len(l.Data) != 0 {
			t.Errorf("conversations after failed imports = %v, want none", l.ids(t))
		}
		// The good part alone imports.
		if st, _, b := raw(t, http.MethodPost, env.e.URL+"/v1/conversations/import", env.key, good); st != 201 {
			t.Errorf("good import: %d %s", st, b)
		}
		big := bytes.Repeat([]byte(" "), 9<<20)
		if st, _, _ := raw(t, http.MethodPost, env.e.URL+"/v1/conversations/import", env.key, good+string(big)); st != 413 {
			t.Errorf("oversized import: %d, want 413", st)
		}
	})
}

func TestConversationExportCrossPrincipal(t *testing.T) {
	forStores(t, func(t *testing.T, kind string) {
		env := startResponses(t, kind)
		conv, err := env.c.Conversations.New(context.Background(), conversations.ConversationNewParams{
			Items: []responses.ResponseInputItemUnionParam{responses.ResponseInputItemParamOfMessage("secret", responses.EasyInputMessageRoleUser)}})
		if err != nil {
			t.Fatal(err)
		}
		_, bobKey := env.e.CreateKey(t, server.KeyRequest{Name: "bob", User: "bob"})
		var other server.KeyView
		if st := env.e.Admin(t, http.MethodPost, "/admin/v1/keys?tenant=other", server.KeyRequest{Name: "alice elsewhere", User: "alice"}, &other); st != 201 {
			t.Fatalf("create key in tenant other: %d", st)
		}
		for name, key := range map[string]string{"another user": bobKey, "another tenant": other.Key} {
			st, _, b := raw(t, http.MethodGet, env.e.URL+"/v1/conversations/"+conv.ID+"/export", key, "")
			if st != 404 || strings.Contains(string(b), "secret") {
				t.Errorf("%s export: %d %s, want 404", name, st, b)
			}
			if l := getList(t, env.e.URL, key, "/v1/conversations"); len(l.Data) != 0 {
				t.Errorf("%s lists %v, want nothing", name, l.ids(t))
			}
		}
		if st, _, _ := raw(t, http.MethodGet, env.e.URL+"/v1/conversations/"+conv.ID+"/export", env.key, ""); st != 200 {
			t.Errorf("owner export: %d", st)
		}
	})
}

func TestExportRoutesRequireAuth(t *testing.T) {
	env := startResponses(t, "sqlite")
	for _, r := range respdoor.ExportRoutes() {
		method, path, _ := strings.Cut(r, " ")
		path = strings.ReplaceAll(path, "{id}", "x")
		if st, _, _ := raw(t, method, env.e.URL+path, "", `{"object":"conversation"}`); st != 401 {
			t.Errorf("%s without a key: %d, want 401", r, st)
		}
	}
}
