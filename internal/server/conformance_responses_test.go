package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/conversations"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/responses"

	"github.com/causeway-ai/causeway/internal/server"
	"github.com/causeway-ai/causeway/internal/server/servertest"
	"github.com/causeway-ai/causeway/internal/sim"
)

// fakeUp is a chat-completions upstream that streams the chunks (the
// "delta"/"finish" JSON objects) a test gives it.
func fakeUp(t *testing.T, deltas []string, whole string) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if !strings.Contains(string(body), `"stream":true`) {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, whole)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		for _, d := range deltas {
			fmt.Fprintf(w, "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[%s]}\n\n", d)
		}
		fmt.Fprint(w, "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":3,\"total_tokens\":8}}\n\n")
		fmt.Fprint(w, "data: [DONE]\n\n")
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func startFake(t *testing.T, url string) openai.Client {
	yml := `
log: {level: warn, requests: false}
metering: {flush_interval: 20ms, drain_timeout: 10s}
providers:
  - name: fake
    type: openai
    base_url: ` + url + `/v1
models:
  - alias: fake
    targets: [{provider: fake, model: m, price: {input_per_mtok: 1, output_per_mtok: 1}}]
`
	e := servertest.Start(t, servertest.Options{Config: yml})
	_, key := e.CreateKey(t, server.KeyRequest{Name: "alice", User: "alice"})
	return newClient(e.URL, key)
}

const refusalWhole = `{"id":"c1","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":null,"refusal":"I can't help with that."},"finish_reason":"stop"}],"usage":{"prompt_tokens":5,"completion_tokens":3,"total_tokens":8}}`

var refusalDeltas = []string{
	`{"index":0,"delta":{"role":"assistant","content":null,"refusal":""},"finish_reason":null}`,
	`{"index":0,"delta":{"refusal":"I can't "},"finish_reason":null}`,
	`{"index":0,"delta":{"refusal":"help with that."},"finish_reason":null}`,
	`{"index":0,"delta":{},"finish_reason":"stop"}`,
}

// A refusal must be a "refusal" content part (response.refusal.delta/.done
// when streamed), and OutputText() must not return it.
func TestConfRefusalWhole(t *testing.T) {
	c := startFake(t, fakeUp(t, refusalDeltas, refusalWhole))
	resp, err := c.Responses.New(context.Background(), responses.ResponseNewParams{Model: "fake", Input: textInput("bad")})
	if err != nil {
		t.Fatal(err)
	}
	msg := resp.Output[0].AsMessage()
	t.Logf("content: %s", resp.Output[0].JSON.Content.Raw())
	if len(msg.Content) != 1 || msg.Content[0].Type != "refusal" || msg.Content[0].Refusal == "" {
		t.Errorf("content part type = %q refusal = %q; want type \"refusal\"", msg.Content[0].Type, msg.Content[0].Refusal)
	}
	if got := resp.OutputText(); got != "" {
		t.Errorf("OutputText() = %q; want \"\" for a refusal", got)
	}
}

func TestConfRefusalStream(t *testing.T) {
	c := startFake(t, fakeUp(t, refusalDeltas, refusalWhole))
	st := c.Responses.NewStreaming(context.Background(), responses.ResponseNewParams{Model: "fake", Input: textInput("bad")})
	evs := drain(t, st, 0)
	var types []string
	for _, ev := range evs {
		types = append(types, ev.Type)
	}
	t.Logf("events: %v", types)
	if !strings.Contains(strings.Join(types, ","), "response.refusal.delta") {
		t.Errorf("no response.refusal.delta event")
	}
}

// Two parallel calls whose argument chunks interleave (index 0, 1, 0, 1):
// function_call_arguments.done and output_item.done must carry the whole
// arguments.
func TestConfInterleavedToolArgs(t *testing.T) {
	d := []string{
		`{"index":0,"delta":{"role":"assistant","tool_calls":[{"index":0,"id":"call_a","type":"function","function":{"name":"f","arguments":""}}]},"finish_reason":null}`,
		`{"index":0,"delta":{"tool_calls":[{"index":1,"id":"call_b","type":"function","function":{"name":"f","arguments":""}}]},"finish_reason":null}`,
		`{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"x\":"}}]},"finish_reason":null}`,
		`{"index":0,"delta":{"tool_calls":[{"index":1,"function":{"arguments":"{\"x\":"}}]},"finish_reason":null}`,
		`{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"1}"}}]},"finish_reason":null}`,
		`{"index":0,"delta":{"tool_calls":[{"index":1,"function":{"arguments":"2}"}}]},"finish_reason":null}`,
		`{"index":0,"delta":{},"finish_reason":"tool_calls"}`,
	}
	c := startFake(t, fakeUp(t, d, ""))
	st := c.Responses.NewStreaming(context.Background(), responses.ResponseNewParams{Model: "fake", Input: textInput("go"),
		Tools: []responses.ToolUnionParam{{OfFunction: &responses.FunctionToolParam{Name: "f", Parameters: map[string]any{"type": "object"}}}}})
	evs := drain(t, st, 0)
	final := map[string]string{}
	for _, ev := range evs {
		if ev.Type == "response.completed" {
			for _, it := range ev.Response.Output {
				final[it.ID] = it.Arguments.OfString
			}
		}
	}
	for _, ev := range evs {
		switch ev.Type {
		case "response.function_call_arguments.done":
			t.Logf("%s item %s arguments %q (final %q)", ev.Type, ev.ItemID, ev.Arguments, final[ev.ItemID])
			if ev.Arguments != final[ev.ItemID] {
				t.Errorf("function_call_arguments.done for %s has arguments %q; the response has %q", ev.ItemID, ev.Arguments, final[ev.ItemID])
			}
		case "response.output_item.done":
			it := ev.Item
			if it.Type == "function_call" && it.Arguments.OfString != final[it.ID] {
				t.Errorf("output_item.done for %s has arguments %q; the response has %q", it.ID, it.Arguments.OfString, final[it.ID])
			}
		}
	}
}

// An unknown 'after' cursor on a response that exists is a 400 on
// 'after', not "Response ... not found" (404).
func TestConfInputItemsBadAfter(t *testing.T) {
	env := startResponses(t, "sqlite")
	ctx := context.Background()
	resp, err := env.c.Responses.New(ctx, responses.ResponseNewParams{Model: "sim-openai", Input: textInput("hi")})
	if err != nil {
		t.Fatal(err)
	}
	_, err = env.c.Responses.InputItems.List(ctx, resp.ID, responses.InputItemListParams{After: openai.String("msg_nope")})
	t.Logf("status %d message %q", oaiStatus(err), oaiMessage(err))
	if oaiStatus(err) == 404 && strings.Contains(oaiMessage(err), "Response with id") {
		t.Errorf("an unknown after cursor answered 404 %q for a response that exists", oaiMessage(err))
	}
	conv, err := env.c.Conversations.New(ctx, conversations.ConversationNewParams{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = env.c.Conversations.Items.List(ctx, conv.ID, conversations.ItemListParams{After: openai.String("msg_nope")})
	t.Logf("conv items: status %d message %q", oaiStatus(err), oaiMessage(err))
	if oaiStatus(err) == 404 && strings.Contains(oaiMessage(err), "Conversation with id") {
		t.Errorf("an unknown after cursor answered 404 %q for a conversation that exists", oaiMessage(err))
	}
}

// ListAutoPaging walks every item, in either order.
func TestConfAutoPaging(t *testing.T) {
	env := startResponses(t, "sqlite")
	ctx := context.Background()
	body := `{"items":[` + strings.Repeat(`{"type":"message","role":"user","content":"x"},`, 6) + `{"type":"message","role":"user","content":"y"}]}`
	var conv conversations.Conversation
	if err := env.c.Post(ctx, "conversations", json.RawMessage(body), &conv); err != nil {
		t.Fatal(err)
	}
	for _, order := range []conversations.ItemListParamsOrder{"asc", "desc"} {
		it := env.c.Conversations.Items.ListAutoPaging(ctx, conv.ID, conversations.ItemListParams{Limit: openai.Int(2), Order: order})
		n := 0
		seen := map[string]bool{}
		for it.Next() {
			id := it.Current().ID
			if seen[id] {
				t.Fatalf("order %s: %s seen twice", order, id)
			}
			seen[id] = true
			n++
		}
		if it.Err() != nil || n != 7 {
			t.Errorf("order %s: walked %d items, err %v; want 7", order, n, it.Err())
		}
	}
	in := `{"model":"sim-openai","input":[` + strings.Repeat(`{"role":"user","content":"x"},`, 4) + `{"role":"user","content":"y"}]}`
	var resp responses.Response
	if err := env.c.Post(ctx, "responses", json.RawMessage(in), &resp); err != nil {
		t.Fatal(err)
	}
	for _, order := range []responses.InputItemListParamsOrder{"asc", "desc"} {
		it := env.c.Responses.InputItems.ListAutoPaging(ctx, resp.ID, responses.InputItemListParams{Limit: openai.Int(2), Order: order})
		n := 0
		for it.Next() {
			n++
		}
		if it.Err() != nil || n != 5 {
			t.Errorf("input items order %s: walked %d, err %v; want 5", order, n, it.Err())
		}
	}
}

// GET ?stream=true&starting_after=N on a stored streamed response resumes
// after N.
func TestConfGetStreamStartingAfter(t *testing.T) {
	env := startResponses(t, "sqlite")
	ctx := context.Background()
	st := env.c.Responses.NewStreaming(ctx, responses.ResponseNewParams{Model: "sim-openai", Input: textInput("hi")})
	evs := drain(t, st, 0)
	id := evs[0].Response.ID
	re := env.c.Responses.GetStreaming(ctx, id, responses.ResponseGetParams{StartingAfter: openai.Int(3)})
	got := drain(t, re, 4)
	if len(got) != len(evs)-4 {
		t.Errorf("replay after 3: %d events, want %d", len(got), len(evs)-4)
	}
	_ = option.WithHeader
}

// While a (non-background, stored) streamed response runs, GET answers it
// in_progress, as OpenAI does; it is stored whole when it ends.
func TestConfGetWhileStreaming(t *testing.T) {
	e := servertest.Start(t, servertest.Options{Sim: sim.Options{ITL: 50 * time.Millisecond}})
	_, key := e.CreateKey(t, server.KeyRequest{Name: "alice", User: "alice"})
	c := newClient(e.URL, key)
	ctx := context.Background()
	st := c.Responses.NewStreaming(ctx, responses.ResponseNewParams{Model: "sim-openai", Input: textInput("hi")})
	if !st.Next() {
		t.Fatal(st.Err())
	}
	id := st.Current().Response.ID
	got, err := c.Responses.Get(ctx, id, responses.ResponseGetParams{})
	t.Logf("GET during stream: status %d %q; got %v", oaiStatus(err), oaiMessage(err), got != nil)
	if err != nil || got.Status != "in_progress" {
		t.Fatalf("GET %s while its stream runs: %v, %v; want the response in_progress", id, got, err)
	}
	for st.Next() {
	}
	if got, err = c.Responses.Get(ctx, id, responses.ResponseGetParams{}); err != nil || got.Status != "completed" || got.OutputText() == "" {
		t.Errorf("GET after the stream = %v, %v; want it completed", got, err)
	}
}

var reasoningDeltas = []string{
	`{"index":0,"delta":{"role":"assistant","reasoning_content":"Think "},"finish_reason":null}`,
	`{"index":0,"delta":{"reasoning_content":"hard."},"finish_reason":null}`,
	`{"index":0,"delta":{"content":"Answer."},"finish_reason":null}`,
	`{"index":0,"delta":{},"finish_reason":"stop"}`,
}

// Reasoning events as the SDK's union expects them.

// Reasoning events as the SDK's union expects them.
func TestConfReasoningStream(t *testing.T) {
	c := startFake(t, fakeUp(t, reasoningDeltas, ""))
	st := c.Responses.NewStreaming(context.Background(), responses.ResponseNewParams{Model: "fake", Input: textInput("q")})
	evs := drain(t, st, 0)
	for _, ev := range evs {
		t.Logf("%s", ev.RawJSON())
	}
}

// A stream cut mid-way: the error event as the SDK's union has it.
func TestConfErrorEvent(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"Hel\"},\"finish_reason\":null}]}\n\n")
		w.(http.Flusher).Flush()
		hj, _, _ := w.(http.Hijacker).Hijack()
		hj.Close()
	}))
	t.Cleanup(srv.Close)
	c := startFake(t, srv.URL)
	st := c.Responses.NewStreaming(context.Background(), responses.ResponseNewParams{Model: "fake", Input: textInput("q")})
	for st.Next() {
		ev := st.Current()
		if ev.Type == "error" || ev.Type == "response.failed" {
			t.Logf("%s", ev.RawJSON())
		}
		if ev.Type == "error" && !ev.JSON.Param.Valid() && ev.JSON.Param.Raw() == "" {
			t.Errorf("error event has no 'param' field (the SDK's ResponseErrorEvent requires it, null when none)")
		}
	}
	t.Logf("err %v", st.Err())
}

// The manual tool loop without previous_response_id: the client sends the
// output items back (with their ids) plus the call's output.
func TestConfManualToolLoop(t *testing.T) {
	env := startResponses(t, "sqlite")
	ctx := context.Background()
	tools := `[{"type":"function","name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}]`
	input := []json.RawMessage{json.RawMessage(`{"role":"user","content":"Weather in Paris?"}`)}
	turn := func(n int) responses.Response {
		in, _ := json.Marshal(input)
		var r responses.Response
		if err := env.c.Post(ctx, "responses", json.RawMessage(`{"model":"sim-openai","tools":`+tools+`,"input":`+string(in)+`}`), &r); err != nil {
			t.Fatalf("turn %d (earlier output items sent back with their ids): %v", n, err)
		}
		for _, it := range r.Output {
			input = append(input, json.RawMessage(it.RawJSON()))
			if it.Type == "function_call" {
				input = append(input, json.RawMessage(`{"type":"function_call_output","call_id":"`+it.CallID+`","output":"sunny"}`))
			}
		}
		return r
	}
	r1 := turn(1)
	t.Logf("r1 output types: %v", r1.Output[0].Type)
	r2 := turn(2)
	t.Logf("r2 %s: %q", r2.Status, r2.OutputText())
	input = append(input, json.RawMessage(`{"role":"user","content":"Thanks"}`))
	turn(3)
}

// Out-of-range sampling parameters are refused by OpenAI (400,
// param "temperature"/"top_p").
func TestConfSamplingRange(t *testing.T) {
	env := startResponses(t, "sqlite")
	ctx := context.Background()
	_, err := env.c.Responses.New(ctx, responses.ResponseNewParams{Model: "sim-openai", Input: textInput("hi"), Temperature: openai.Float(7)})
	t.Logf("temperature 7: status %d %q", oaiStatus(err), oaiMessage(err))
	if oaiStatus(err) != 400 {
		t.Errorf("temperature 7: status %d; want 400", oaiStatus(err))
	}
	_, err = env.c.Responses.New(ctx, responses.ResponseNewParams{Model: "sim-openai", Input: textInput("hi"), TopP: openai.Float(3)})
	t.Logf("top_p 3: status %d %q", oaiStatus(err), oaiMessage(err))
	if oaiStatus(err) != 400 {
		t.Errorf("top_p 3: status %d; want 400", oaiStatus(err))
	}
}

// include: ["reasoning.encrypted_content"] with store:false gives each
// reasoning item encrypted_content (needed to send it back statelessly);
// an unknown include value is a 400.
func TestConfIncludeEncrypted(t *testing.T) {
	c := startFake(t, fakeUp(t, reasoningDeltas, `{"id":"c1","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"Answer.","reasoning_content":"Think hard."},"finish_reason":"stop"}],"usage":{"prompt_tokens":5,"completion_tokens":3,"total_tokens":8}}`))
	ctx := context.Background()
	resp, err := c.Responses.New(ctx, responses.ResponseNewParams{Model: "fake", Input: textInput("q"), Store: openai.Bool(false),
		Include: []responses.ResponseIncludable{responses.ResponseIncludableReasoningEncryptedContent}})
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range resp.Output {
		if it.Type == "reasoning" {
			t.Logf("reasoning item: %s", it.RawJSON())
			if !it.JSON.EncryptedContent.Valid() {
				t.Errorf("reasoning item has no encrypted_content although include asked for it")
			}
		}
	}
	_, err = c.Responses.New(ctx, responses.ResponseNewParams{Model: "fake", Input: textInput("q"),
		Include: []responses.ResponseIncludable{"bogus.value"}})
	t.Logf("include bogus: status %d %q", oaiStatus(err), oaiMessage(err))
	if oaiStatus(err) != 400 {
		t.Errorf("include [\"bogus.value\"]: status %d; want 400", oaiStatus(err))
	}
}

func TestConfConversationSDK(t *testing.T) {
	env := startResponses(t, "sqlite")
	ctx := context.Background()
	conv, err := env.c.Conversations.New(ctx, conversations.ConversationNewParams{})
	if err != nil {
		t.Fatal(err)
	}
	var added conversations.ConversationItemList
	if err := env.c.Post(ctx, "conversations/"+conv.ID+"/items", json.RawMessage(`{"items":[{"role":"user","content":"a"},{"role":"assistant","content":"b"}]}`), &added); err != nil {
		t.Fatal(err)
	}
	t.Logf("added: %s", added.RawJSON())
	if len(added.Data) != 2 || added.FirstID != added.Data[0].ID || added.LastID != added.Data[1].ID {
		t.Errorf("added list = %s", added.RawJSON())
	}
	it, err := env.c.Conversations.Items.Get(ctx, conv.ID, added.Data[0].ID, conversations.ItemGetParams{})
	if err != nil || it.ID != added.Data[0].ID {
		t.Errorf("get item: %v", err)
	}
	c2, err := env.c.Conversations.Items.Delete(ctx, conv.ID, added.Data[0].ID)
	if err != nil || c2.ID != conv.ID || c2.Object != "conversation" {
		t.Errorf("delete item: %v %v", c2, err)
	}
	d, err := env.c.Conversations.Delete(ctx, conv.ID)
	if err != nil || !d.Deleted || d.Object != "conversation.deleted" {
		t.Errorf("delete conv: %v %v", d, err)
	}
	_, err = env.c.Conversations.Get(ctx, conv.ID)
	t.Logf("get deleted: %d %q", oaiStatus(err), oaiMessage(err))
}

// A stored foreground stream whose client goes away mid-way is not left
// in_progress: its row ends failed.
func TestStreamClientGoneEndsFailed(t *testing.T) {
	e := servertest.Start(t, servertest.Options{Sim: sim.Options{ITL: 20 * time.Millisecond}})
	_, key := e.CreateKey(t, server.KeyRequest{Name: "alice", User: "alice"})
	c := newClient(e.URL, key)
	ctx, cancel := context.WithCancel(context.Background())
	st := c.Responses.NewStreaming(ctx, responses.ResponseNewParams{Model: "sim-openai", Input: textInput("a long answer please")})
	var id string
	for st.Next() {
		ev := st.Current()
		if ev.Type == "response.created" {
			id = ev.Response.ID
		}
		if ev.Type == "response.output_text.delta" {
			break
		}
	}
	cancel()
	st.Close()
	var got *responses.Response
	servertest.WaitFor(t, "the abandoned response to end", func() bool {
		var err error
		got, err = c.Responses.Get(context.Background(), id, responses.ResponseGetParams{})
		return err == nil && got.Status != "in_progress"
	})
	if got.Status != "failed" || got.Error.Message == "" {
		t.Errorf("abandoned stream's response = %s (%+v), want failed with a reason", got.Status, got.Error)
	}
}
