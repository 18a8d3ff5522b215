package server_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/responses"

	"github.com/causeway-ai/causeway/internal/runtime"
	"github.com/causeway-ai/causeway/internal/server"
	"github.com/causeway-ai/causeway/internal/server/servertest"
)

// recorder is a scripted OpenAI chat upstream that keeps every request.
// The upstream model "summarizer" answers "GIST-<n>", n the number of
// user lines in the transcript it was given; "chatty" answers "noted."
// and refuses, as too long for its context, any request that still holds
// the word "alpha" (the first turn of the tests' conversations).
type recorder struct {
	mu   sync.Mutex
	reqs []recorded
	srv  *httptest.Server
}

type recorded struct {
	Model    string `json:"model"`
	Stream   bool   `json:"stream"`
	Messages []struct {
		Role       string `json:"role"`
		Content    any    `json:"content"`
		ToolCallID string `json:"tool_call_id"`
		ToolCalls  []struct {
			ID string `json:"id"`
		} `json:"tool_calls"`
	} `json:"messages"`
	raw string
}

func startRecorder(t *testing.T) *recorder {
	rec := &recorder{}
	rec.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var buf bytes.Buffer
		_, _ = buf.ReadFrom(r.Body)
		var req recorded
		_ = json.Unmarshal(buf.Bytes(), &req)
		req.raw = buf.String()
		rec.mu.Lock()
		rec.reqs = append(rec.reqs, req)
		rec.mu.Unlock()
		text := "noted."
		switch req.Model {
		case "summarizer":
			n := strings.Count(req.raw, `user: tell me`)
			text = fmt.Sprintf("GIST-%d", n)
		case "chatty":
			if strings.Contains(req.raw, "alpha") {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(400)
				_, _ = w.Write([]byte(`{"error":{"message":"This model's maximum context length is 100 tokens.","type":"invalid_request_error","param":"messages","code":"context_length_exceeded"}}`))
				return
			}
		}
		usage := map[string]any{"prompt_tokens": 50, "completion_tokens": 7, "total_tokens": 57}
		if !req.Stream {
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]any{"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": req.Model,
				"choices": []any{map[string]any{"index": 0, "message": map[string]any{"role": "assistant", "content": text}, "finish_reason": "stop"}},
				"usage":   usage})
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		for _, c := range []map[string]any{
			{"choices": []any{map[string]any{"index": 0, "delta": map[string]any{"role": "assistant", "content": text}, "finish_reason": nil}}},
			{"choices": []any{map[string]any{"index": 0, "delta": map[string]any{}, "finish_reason": "stop"}}},
			{"choices": []any{}, "usage": usage},
		} {
			c["id"], c["object"], c["created"], c["model"] = "chatcmpl-1", "chat.completion.chunk", 1, req.Model
			b, _ := json.Marshal(c)
			_, _ = fmt.Fprintf(w, "data: %s\n\n", b)
		}
		_, _ = fmt.Fprint(w, "data: [DONE]\n\n")
	}))
	t.Cleanup(rec.srv.Close)
	return rec
}

// last returns the last request for an upstream model.
func (rec *recorder) last(t *testing.T, model string) recorded {
	t.Helper()
	rec.mu.Lock()
	defer rec.mu.Unlock()
	for i := len(rec.reqs) - 1; i >= 0; i-- {
		if rec.reqs[i].Model == model {
			return rec.reqs[i]
		}
	}
	t.Fatalf("no request for %s", model)
	return recorded{}
}

func (rec *recorder) count(model string) int {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	n := 0
	for _, r := range rec.reqs {
		if r.Model == model {
			n++
		}
	}
	return n
}

type compactEnv struct {
	e   *servertest.Env
	rec *recorder
	c   openai.Client
	key string
}

func startCompact(t *testing.T, kind string) compactEnv {
	rec := startRecorder(t)
	cfg := servertest.DefaultConfig + `
  - alias: rec-main
    targets: [{provider: rec, model: main, price: {input_per_mtok: 1, output_per_mtok: 2}}]
  - alias: rec-chatty
    targets: [{provider: rec, model: chatty, price: {input_per_mtok: 1, output_per_mtok: 2}}]
  - alias: rec-summary
    targets: [{provider: rec, model: summarizer, price: {input_per_mtok: 3, output_per_mtok: 4}}]
compaction:
  model: rec-summary
  keep_recent_turns: 2
  default_threshold: 1
`
	cfg = strings.Replace(cfg, "providers:\n", fmt.Sprintf("providers:\n  - name: rec\n    type: openai\n    base_url: %s/v1\n", rec.srv.URL), 1)
	e := servertest.Start(t, servertest.Options{Store: kind, Config: cfg})
	_, key := e.CreateKey(t, server.KeyRequest{Name: "alice", User: "alice"})
	return compactEnv{e: e, rec: rec, c: newClient(e.URL, key), key: key}
}

var turnWords = []string{"alpha", "bravo", "charlie", "delta", "echo", "foxtrot"}

// chain makes n turns with previous_response_id, one word each, and
// returns the last response id.
func (env compactEnv) chain(t *testing.T, n int) string {
	t.Helper()
	prev := ""
	for _, w := range turnWords[:n] {
		p := responses.ResponseNewParams{Model: "rec-main", Input: textInput("tell me about " + w)}
		if prev != "" {
			p.PreviousResponseID = openai.String(prev)
		}
		r, err := env.c.Responses.New(context.Background(), p)
		if err != nil {
			t.Fatalf("turn %s: %v", w, err)
		}
		prev = r.ID
	}
	return prev
}

// compactAbove is the SDK's context_management asking for compaction
// above threshold tokens.
func compactAbove(threshold int64) []responses.ResponseNewParamsContextManagement {
	return []responses.ResponseNewParamsContextManagement{{Type: "compaction", CompactThreshold: openai.Int(threshold)}}
}

func requestIDs(t *testing.T, raw string) []string {
	t.Helper()
	var v struct {
		Causeway struct {
			RequestIDs []string `json:"request_ids"`
		} `json:"causeway"`
	}
	if err := json.Unmarshal([]byte(raw), &v); err != nil {
		t.Fatal(err)
	}
	return v.Causeway.RequestIDs
}

// TestCompactionAuto: a long previous_response_id chain with
// context_management compacts: the compaction item is the first output
// item, made by the configured model from the old turns only; the model
// then sees the summary and the kept turns, not the old ones, and so does
// the next turn. The compaction call is metered to the caller.
func TestCompactionAuto(t *testing.T) {
	forStores(t, func(t *testing.T, kind string) {
		env := startCompact(t, kind)
		ctx := context.Background()
		prev := env.chain(t, 4)

		// Below the threshold nothing happens.
		r, err := env.c.Responses.New(ctx, responses.ResponseNewParams{Model: "rec-main", Input: textInput("tell me about echo"),
			PreviousResponseID: openai.String(prev), ContextManagement: compactAbove(1_000_000)})
		if err != nil {
			t.Fatal(err)
		}
		if got := itemTypes(r.Output); !slices.Equal(got, []string{"message"}) {
			t.Fatalf("below the threshold: output %v, want one message", got)
		}
		if env.rec.count("summarizer") != 0 {
			t.Fatalf("below the threshold the summariser was called")
		}

		r, err = env.c.Responses.New(ctx, responses.ResponseNewParams{Model: "rec-main", Input: textInput("tell me about echo"),
			PreviousResponseID: openai.String(prev), ContextManagement: compactAbove(10)})
		if err != nil {
			t.Fatal(err)
		}
		if got := itemTypes(r.Output); !slices.Equal(got, []string{"compaction", "message"}) {
			t.Fatalf("output %v, want the compaction item first", got)
		}
		cmp := r.Output[0].AsCompaction()
		if !strings.HasPrefix(cmp.ID, "cmp_") || cmp.EncryptedContent == "" {
			t.Fatalf("compaction item %s", r.Output[0].RawJSON())
		}
		// The summariser saw the turns before the kept two (alpha, bravo,
		// charlie), and not the kept ones (delta, echo).
		sum := env.rec.last(t, "summarizer")
		for _, w := range []string{"alpha", "bravo", "charlie"} {
			if !strings.Contains(sum.raw, w) {
				t.Errorf("summariser request lacks %q: %s", w, sum.raw)
			}
		}
		for _, w := range []string{"delta", "echo"} {
			if strings.Contains(sum.raw, w) {
				t.Errorf("summariser request holds kept turn %q: %s", w, sum.raw)
			}
		}
		main := env.rec.last(t, "main")
		checkContext(t, "compacting turn", main, []string{runtime.CompactionMarker + "GIST-3", "delta", "echo"}, []string{"alpha", "bravo", "charlie"})

		// The next turn starts from the compaction item.
		next, err := env.c.Responses.New(ctx, responses.ResponseNewParams{Model: "rec-main", Input: textInput("tell me about foxtrot"),
			PreviousResponseID: openai.String(r.ID)})
		if err != nil {
			t.Fatal(err)
		}
		if got := itemTypes(next.Output); !slices.Equal(got, []string{"message"}) {
			t.Fatalf("next turn output %v", got)
		}
		checkContext(t, "next turn", env.rec.last(t, "main"), []string{runtime.CompactionMarker + "GIST-3", "delta", "echo", "foxtrot"}, []string{"alpha", "bravo", "charlie"})

		// Metering: the compaction call is listed first and is in the
		// ledger under <request id>-compact, on the summarising model.
		ids := requestIDs(t, r.RawJSON())
		if len(ids) != 2 || ids[0] != ids[1]+"-compact" {
			t.Fatalf("causeway.request_ids = %v, want [<rid>-compact <rid>]", ids)
		}
		if r.Usage.InputTokens != 100 || r.Usage.OutputTokens != 14 {
			t.Errorf("usage %d in / %d out, want both calls' (100 / 14)", r.Usage.InputTokens, r.Usage.OutputTokens)
		}
		recs := ledger(t, env.e, 8)
		found := false
		for _, rc := range recs {
			if rc.RequestID == ids[0] {
				found = true
				if rc.UpstreamModel != "summarizer" || rc.InputTokens != 50 || rc.OutputTokens != 7 || rc.CostNanoUSD <= 0 ||
					rc.ResponseID != r.ID {
					t.Errorf("compaction usage record %+v, want summarizer 50/7 with a cost, tied to %s", rc, r.ID)
				}
			}
		}
		if !found {
			t.Fatalf("no usage record with request id %s", ids[0])
		}

		// Another user cannot compact or continue alice's chain.
		_, bob := env.e.CreateKey(t, server.KeyRequest{Name: "bob", User: "bob"})
		st, _, body := env.e.Post(t, bob, "/v1/responses", `{"model":"rec-main","input":"hi","previous_response_id":"`+r.ID+`","context_management":[{"type":"compaction","compact_threshold":1}]}`)
		if st != 404 {
			t.Errorf("bob continuing alice's response: %d %s, want 404", st, body)
		}
		st, _, body = env.e.Post(t, bob, "/v1/responses/compact", `{"model":"rec-main","previous_response_id":"`+r.ID+`"}`)
		if st != 404 || !strings.Contains(string(body), `"not_found"`) {
			t.Errorf("bob compacting alice's response: %d %s, want 404", st, body)
		}
	})
}

// checkContext asserts what an upstream request holds and lacks.
func checkContext(t *testing.T, what string, r recorded, has, lacks []string) {
	t.Helper()
	for _, s := range has {
		if !strings.Contains(r.raw, jsonText(s)) {
			t.Errorf("%s: upstream request lacks %q: %s", what, s, r.raw)
		}
	}
	for _, s := range lacks {
		if strings.Contains(r.raw, s) {
			t.Errorf("%s: upstream request holds %q: %s", what, s, r.raw)
		}
	}
}

// jsonText is s as it appears inside a JSON string.
func jsonText(s string) string {
	b, _ := json.Marshal(s)
	return string(b[1 : len(b)-1])
}

// TestCompactionStream: streamed, the compaction item is the first
// output item, announced by output_item.added and .done right after
// response.in_progress, with sequence numbers in order.
func TestCompactionStream(t *testing.T) {
	env := startCompact(t, "sqlite")
	prev := env.chain(t, 4)
	st, _, body := env.e.Post(t, env.key, "/v1/responses", `{"model":"rec-main","stream":true,"input":"tell me about echo","previous_response_id":"`+prev+`","context_management":[{"type":"compaction"}]}`)
	if st != 200 {
		t.Fatalf("stream: %d %s", st, body)
	}
	type event struct {
		Type        string `json:"type"`
		Seq         int64  `json:"sequence_number"`
		OutputIndex *int   `json:"output_index"`
		Item        *struct {
			Type string `json:"type"`
		} `json:"item"`
		Response *struct {
			Output []struct {
				Type string `json:"type"`
			} `json:"output"`
		} `json:"response"`
	}
	var evs []event
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			var ev event
			if err := json.Unmarshal([]byte(data), &ev); err != nil {
				t.Fatalf("event %s: %v", data, err)
			}
			evs = append(evs, ev)
		}
	}
	if len(evs) < 6 {
		t.Fatalf("%d events: %s", len(evs), body)
	}
	for i, ev := range evs {
		if ev.Seq != int64(i) {
			t.Fatalf("event %d (%s) has sequence_number %d", i, ev.Type, ev.Seq)
		}
	}
	want := []string{"response.created", "response.in_progress", "response.output_item.added", "response.output_item.done", "response.output_item.added"}
	for i, w := range want {
		if evs[i].Type != w {
			t.Fatalf("event %d is %s, want %s", i, evs[i].Type, w)
		}
	}
	for i := 2; i <= 3; i++ {
		if evs[i].Item == nil || evs[i].Item.Type != "compaction" || evs[i].OutputIndex == nil || *evs[i].OutputIndex != 0 {
			t.Fatalf("event %d is not the compaction item at output index 0", i)
		}
	}
	if *evs[4].OutputIndex != 1 {
		t.Fatalf("the message is at output index %d, want 1", *evs[4].OutputIndex)
	}
	final := evs[len(evs)-1]
	if final.Type != "response.completed" || len(final.Response.Output) != 2 || final.Response.Output[0].Type != "compaction" {
		t.Fatalf("final event %s with output %+v", final.Type, final.Response)
	}
}

// TestCompactionKeepsToolPairs: a function call answered after a later
// user message is kept with its output: the split moves back to the
// call's turn.
func TestCompactionKeepsToolPairs(t *testing.T) {
	env := startCompact(t, "sqlite")
	st, _, body := env.e.Post(t, env.key, "/v1/conversations", `{"items":[
		{"type":"message","role":"user","content":"tell me about alpha"},
		{"type":"message","role":"assistant","content":"noted."},
		{"type":"message","role":"user","content":"tell me about bravo"},
		{"type":"function_call","call_id":"call_keep","name":"lookup","arguments":"{}"},
		{"type":"message","role":"user","content":"tell me about charlie"},
		{"type":"function_call_output","call_id":"call_keep","output":"found it"},
		{"type":"message","role":"assistant","content":"noted."}
	]}`)
	var conv struct{ ID string }
	if err := json.Unmarshal(body, &conv); st != 200 || err != nil {
		t.Fatalf("conversation: %d %s", st, body)
	}
	st, _, body = env.e.Post(t, env.key, "/v1/responses", `{"model":"rec-main","input":"tell me about delta","conversation":"`+conv.ID+`","context_management":[{"type":"compaction","compact_threshold":5}]}`)
	if st != 200 {
		t.Fatalf("create: %d %s", st, body)
	}
	var resp struct {
		Output []struct {
			Type string `json:"type"`
		} `json:"output"`
	}
	_ = json.Unmarshal(body, &resp)
	if len(resp.Output) == 0 || resp.Output[0].Type != "compaction" {
		t.Fatalf("output %s, want a compaction first", body)
	}
	// Keeping two turns would split at "charlie", between the call and
	// its output; the split moved back to "bravo".
	sum := env.rec.last(t, "summarizer")
	if !strings.Contains(sum.raw, "alpha") || strings.Contains(sum.raw, "bravo") || strings.Contains(sum.raw, "call_keep") || strings.Contains(sum.raw, "lookup") {
		t.Fatalf("summariser request: %s, want alpha only", sum.raw)
	}
	main := env.rec.last(t, "main")
	checkContext(t, "compacted", main, []string{runtime.CompactionMarker + "GIST-1", "bravo", "charlie", "delta", "found it"}, []string{"alpha"})
	calls, outputs := 0, 0
	for _, m := range main.Messages {
		for _, tc := range m.ToolCalls {
			if tc.ID == "call_keep" {
				calls++
			}
		}
		if m.ToolCallID == "call_keep" {
			outputs++
		}
	}
	if calls != 1 || outputs != 1 {
		t.Fatalf("upstream request has %d calls and %d outputs of call_keep, want 1 and 1", calls, outputs)
	}
	// The conversation's next turn starts from the compaction item.
	st, _, body = env.e.Post(t, env.key, "/v1/responses", `{"model":"rec-main","input":"tell me about echo","conversation":"`+conv.ID+`"}`)
	if st != 200 {
		t.Fatalf("next: %d %s", st, body)
	}
	checkContext(t, "next turn", env.rec.last(t, "main"), []string{runtime.CompactionMarker + "GIST-1", "bravo", "echo"}, []string{"alpha"})
}

// TestCompactEndpoint: POST /v1/responses/compact through the SDK
// returns the kept turns then a compaction item; fed back as input
// (with a new message) it continues the conversation from the summary.
func TestCompactEndpoint(t *testing.T) {
	forStores(t, func(t *testing.T, kind string) {
		env := startCompact(t, kind)
		ctx := context.Background()
		prev := env.chain(t, 4)
		out, err := env.c.Responses.Compact(ctx, responses.ResponseCompactParams{Model: "rec-main", PreviousResponseID: openai.String(prev)})
		if err != nil {
			t.Fatal(err)
		}
		if out.Object != "response.compaction" || out.ID == "" || out.CreatedAt == 0 {
			t.Fatalf("compacted %s", out.RawJSON())
		}
		var types []string
		for _, it := range out.Output {
			types = append(types, it.Type)
		}
		// Kept: the last two turns (charlie and delta, with answers),
		// then the compaction item.
		if !slices.Equal(types, []string{"message", "message", "message", "message", "compaction"}) {
			t.Fatalf("output types %v", types)
		}
		if out.Usage.InputTokens != 50 || out.Usage.OutputTokens != 7 || out.Usage.TotalTokens != 57 {
			t.Errorf("usage %s, want the summariser call's", out.Usage.RawJSON())
		}
		sum := env.rec.last(t, "summarizer")
		if !strings.Contains(sum.raw, "alpha") || !strings.Contains(sum.raw, "bravo") || strings.Contains(sum.raw, "charlie") {
			t.Fatalf("summariser request %s, want alpha and bravo only", sum.raw)
		}

		// Fed back as input, with a new message.
		var input []json.RawMessage
		for _, it := range out.Output {
			input = append(input, json.RawMessage(it.RawJSON()))
		}
		input = append(input, json.RawMessage(`{"role":"user","content":"tell me about echo"}`))
		body, _ := json.Marshal(map[string]any{"model": "rec-main", "input": input})
		st, _, b := env.e.Post(t, env.key, "/v1/responses", string(body))
		if st != 200 {
			t.Fatalf("continue: %d %s", st, b)
		}
		checkContext(t, "fed back", env.rec.last(t, "main"), []string{runtime.CompactionMarker + "GIST-2", "charlie", "delta", "echo"}, []string{"alpha", "bravo"})
		// Only the compaction item, without the kept messages, gives the
		// same context: the item stands for them.
		only, _ := json.Marshal(map[string]any{"model": "rec-main", "input": []json.RawMessage{json.RawMessage(out.Output[4].RawJSON()),
			json.RawMessage(`{"role":"user","content":"tell me about foxtrot"}`)}})
		if st, _, b := env.e.Post(t, env.key, "/v1/responses", string(only)); st != 200 {
			t.Fatalf("continue from the item: %d %s", st, b)
		}
		checkContext(t, "item only", env.rec.last(t, "main"), []string{runtime.CompactionMarker + "GIST-2", "charlie", "delta", "foxtrot"}, []string{"alpha", "bravo"})

		// Metering of the compaction call.
		recs := ledger(t, env.e, 6)
		found := false
		for _, rc := range recs {
			if strings.HasSuffix(rc.RequestID, "-compact") && rc.UpstreamModel == "summarizer" {
				found = true
			}
		}
		if !found {
			t.Fatalf("no usage record of the compaction call in %d records", len(recs))
		}
	})
}

// TestCompactionErrors: malformed compaction items and requests are 400s
// in OpenAI's shape; too short a context cannot be compacted.
func TestCompactionErrors(t *testing.T) {
	env := startCompact(t, "sqlite")
	cases := []struct {
		path, body, code string
	}{
		{"/v1/responses", `{"model":"rec-main","input":[{"type":"compaction","encrypted_content":"bm90IG91cnM="},{"role":"user","content":"hi"}]}`, "invalid_encrypted_content"},
		{"/v1/responses", `{"model":"rec-main","input":[{"type":"compaction"}]}`, "missing_required_parameter"},
		{"/v1/responses", `{"model":"rec-main","input":"hi","context_management":[{"type":"forget"}]}`, "invalid_value"},
		{"/v1/responses", `{"model":"rec-main","input":"hi","context_management":[{"type":"compaction","compact_threshold":0}]}`, "integer_below_min_value"},
		{"/v1/responses/compact", `{"model":"rec-main","input":"hi"}`, ""},
		{"/v1/responses/compact", `{"input":"hi"}`, "missing_required_parameter"},
	}
	for _, c := range cases {
		st, _, b := env.e.Post(t, env.key, c.path, c.body)
		var e struct {
			Error struct {
				Type string  `json:"type"`
				Code *string `json:"code"`
			} `json:"error"`
		}
		_ = json.Unmarshal(b, &e)
		if st != 400 || e.Error.Type != "invalid_request_error" || (c.code != "" && (e.Error.Code == nil || *e.Error.Code != c.code)) {
			t.Errorf("%s %s: %d %s, want 400 %s", c.path, c.body, st, b, c.code)
		}
	}
	if n := env.rec.count("summarizer"); n != 0 {
		t.Errorf("the summariser was called %d times for invalid requests", n)
	}
	if st, _, b := env.e.Post(t, "", "/v1/responses/compact", `{"model":"rec-main","input":"hi"}`); st != 401 {
		t.Errorf("compact without a key: %d %s, want 401", st, b)
	}
}

// TestTruncationCompactsFirst: with truncation "auto" and a compaction
// section in the configuration, a context the model refuses as too long
// is compacted before any turn is dropped.
func TestTruncationCompactsFirst(t *testing.T) {
	env := startCompact(t, "sqlite")
	ctx := context.Background()
	prev := ""
	for _, w := range turnWords[:3] {
		p := responses.ResponseNewParams{Model: "rec-main", Input: textInput("tell me about " + w)}
		if prev != "" {
			p.PreviousResponseID = openai.String(prev)
		}
		r, err := env.c.Responses.New(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		prev = r.ID
	}
	r, err := env.c.Responses.New(ctx, responses.ResponseNewParams{Model: "rec-chatty", Input: textInput("tell me about delta"),
		PreviousResponseID: openai.String(prev), Truncation: responses.ResponseNewParamsTruncationAuto})
	if err != nil {
		t.Fatalf("truncation auto: %v", err)
	}
	if got := itemTypes(r.Output); !slices.Equal(got, []string{"compaction", "message"}) {
		t.Fatalf("output %v, want the compaction first", got)
	}
	if n := env.rec.count("chatty"); n != 2 {
		t.Fatalf("chatty got %d requests, want 2 (refused, then compacted)", n)
	}
	// Compacted, not truncated: the summary of alpha and bravo, and the two
	// kept turns.
	checkContext(t, "compacted", env.rec.last(t, "chatty"), []string{runtime.CompactionMarker + "GIST-2", "charlie", "delta"}, []string{"alpha", "bravo"})
	if ids := requestIDs(t, r.RawJSON()); len(ids) != 3 || ids[0] != ids[1]+"-compact" || ids[2] != ids[1]+"-compacted" {
		t.Fatalf("request_ids %v, want the compaction, the refused call and the retry", ids)
	}
}

// TestCompactionOwnModel: without a compaction section, a request that
// asks for compaction is summarised by its own model (here the
// simulator's), and the call is metered under that alias.
func TestCompactionOwnModel(t *testing.T) {
	e := servertest.Start(t, servertest.Options{})
	_, key := e.CreateKey(t, server.KeyRequest{Name: "own", User: "carol"})
	c := newClient(e.URL, key)
	ctx := context.Background()
	prev := ""
	for _, w := range turnWords[:3] {
		p := responses.ResponseNewParams{Model: "sim-openai", Input: textInput("tell me about " + w)}
		if prev != "" {
			p.PreviousResponseID = openai.String(prev)
		}
		r, err := c.Responses.New(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		prev = r.ID
	}
	before := e.Sim.Stats().Requests["gpt-4.1-mini"]
	r, err := c.Responses.New(ctx, responses.ResponseNewParams{Model: "sim-openai", Input: textInput("tell me about delta"),
		PreviousResponseID: openai.String(prev), ContextManagement: compactAbove(1)})
	if err != nil {
		t.Fatal(err)
	}
	if got := itemTypes(r.Output); !slices.Equal(got, []string{"compaction", "message"}) {
		t.Fatalf("output %v, want the compaction first", got)
	}
	if got := e.Sim.Stats().Requests["gpt-4.1-mini"] - before; got != 2 {
		t.Fatalf("upstream requests = %d, want 2 (summary, answer)", got)
	}
	var item struct {
		Causeway struct {
			Summary string `json:"summary"`
			Model   string `json:"model"`
			Covered int    `json:"covered_items"`
			Kept    int    `json:"kept_items"`
		} `json:"causeway"`
	}
	if err := json.Unmarshal([]byte(r.Output[0].RawJSON()), &item); err != nil {
		t.Fatal(err)
	}
	// Three turns and the new input, two kept: the four items of alpha's and bravo's turns
	// are summarised; charlie's question and answer and delta are kept.
	if item.Causeway.Model != "sim-openai" || item.Causeway.Summary == "" || item.Causeway.Covered != 4 || item.Causeway.Kept != 3 {
		t.Fatalf("compaction item's causeway field %+v", item.Causeway)
	}
	ids := requestIDs(t, r.RawJSON())
	recs := ledger(t, e, 5)
	for _, rc := range recs {
		if rc.RequestID == ids[0] {
			if rc.Alias != "sim-openai" || rc.User != "carol" {
				t.Fatalf("compaction record %+v, want sim-openai for carol", rc)
			}
			return
		}
	}
	t.Fatalf("no usage record %s", ids[0])
}

// TestCompactionBackground: a background response compacts like any
// other (the summary is made before it is queued) and stores the
// compaction item as its first output item.
func TestCompactionBackground(t *testing.T) {
	env := startCompact(t, "sqlite")
	ctx := context.Background()
	prev := env.chain(t, 4)
	r, err := env.c.Responses.New(ctx, responses.ResponseNewParams{Model: "rec-main", Input: textInput("tell me about echo"),
		PreviousResponseID: openai.String(prev), ContextManagement: compactAbove(10), Background: openai.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	drain(t, env.c.Responses.GetStreaming(ctx, r.ID, responses.ResponseGetParams{}), 0)
	got, err := env.c.Responses.Get(ctx, r.ID, responses.ResponseGetParams{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != "completed" || !slices.Equal(itemTypes(got.Output), []string{"compaction", "message"}) {
		t.Fatalf("background response %s with output %v, want completed with the compaction first", got.Status, itemTypes(got.Output))
	}
	checkContext(t, "background", env.rec.last(t, "main"), []string{runtime.CompactionMarker + "GIST-3", "delta", "echo"}, []string{"alpha", "bravo", "charlie"})
}
