package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/responses"

	"github.com/causeway-ai/causeway/internal/billing"
	"github.com/causeway-ai/causeway/internal/identity"
	"github.com/causeway-ai/causeway/internal/server"
	"github.com/causeway-ai/causeway/internal/server/servertest"
)

// toolTarget is an HTTP endpoint behind the server-side tools: GET
// /weather/{city} and GET /time, counting hits.
type toolTarget struct {
	url  string
	host string
	hits atomic.Int64
	last atomic.Value // the last request's X-Api-Key
}

func startToolTarget(t *testing.T) *toolTarget {
	t.Helper()
	tt := &toolTarget{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tt.hits.Add(1)
		tt.last.Store(r.Header.Get("X-Api-Key"))
		w.Header().Set("Content-Type", "text/plain")
		switch {
		case strings.HasPrefix(r.URL.Path, "/weather/"):
			_, _ = fmt.Fprintf(w, "sunny in %s", strings.TrimPrefix(r.URL.Path, "/weather/"))
		case r.URL.Path == "/time":
			_, _ = io.WriteString(w, "noon")
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	tt.url, tt.host = srv.URL, u.Host
	return tt
}

// toolsConfig is the default test config with the two HTTP tools and,
// when extra is set, more YAML (providers, models).
func toolsConfig(tt *toolTarget, maxSteps int, extra string) string {
	return servertest.DefaultConfig + extra + fmt.Sprintf(`
tools:
  max_steps: %d
  http:
    - name: weather
      description: The weather in a city.
      url: %s/weather/{city}
      allow_hosts: [%q]
      headers: {X-Api-Key: tool-secret}
      parameters: {type: object, properties: {city: {type: string, enum: [Paris]}}, required: [city]}
    - name: clock
      description: The time.
      url: %s/time
      allow_hosts: [%q]
      parameters: {type: object, properties: {zone: {type: string, const: UTC}}}
`, maxSteps, tt.url, tt.host, tt.url, tt.host)
}

type toolEnv struct {
	e   *servertest.Env
	c   openai.Client
	tt  *toolTarget
	key string
}

func startTools(t *testing.T, kind string, maxSteps int, allowed ...string) toolEnv {
	t.Helper()
	tt := startToolTarget(t)
	e := servertest.Start(t, servertest.Options{Store: kind, Config: toolsConfig(tt, maxSteps, "")})
	_, key := e.CreateKey(t, server.KeyRequest{Name: "alice", User: "alice", Tools: allowed})
	return toolEnv{e: e, c: newClient(e.URL, key), tt: tt, key: key}
}

// serverTools lists server-side tools in a request (the SDK has no type
// for them).
func serverTools(names ...string) option.RequestOption {
	tools := make([]map[string]string, len(names))
	for i, n := range names {
		tools[i] = map[string]string{"type": "causeway", "name": n}
	}
	return option.WithJSONSet("tools", tools)
}

func itemTypes(out []responses.ResponseOutputItemUnion) []string {
	var s []string
	for _, it := range out {
		s = append(s, it.Type)
	}
	return s
}

// outputItem is an output item as JSON, with Causeway's fields.
type outputItem struct {
	ID       string         `json:"id"`
	Type     string         `json:"type"`
	Status   string         `json:"status"`
	CallID   string         `json:"call_id"`
	Name     string         `json:"name"`
	Output   string         `json:"output"`
	Causeway map[string]any `json:"causeway"`
}

func decodeItem(t *testing.T, it responses.ResponseOutputItemUnion) outputItem {
	t.Helper()
	var o outputItem
	if err := json.Unmarshal([]byte(it.RawJSON()), &o); err != nil {
		t.Fatalf("item %s: %v", it.RawJSON(), err)
	}
	return o
}

// ledger returns the tenant's usage records once n are written.
func ledger(t *testing.T, e *servertest.Env, n int) []billing.Record {
	t.Helper()
	var recs []billing.Record
	servertest.WaitFor(t, fmt.Sprintf("%d usage records", n), func() bool {
		e.Server.Meter().Flush(context.Background())
		var err error
		recs, err = e.Store.ListUsage(context.Background(), billing.UsageFilter{Tenant: identity.DefaultTenant}, 100)
		if err != nil {
			t.Fatalf("list usage: %v", err)
		}
		return len(recs) >= n
	})
	return recs
}

// TestServerToolLoop: the model calls a server-side HTTP tool, Causeway
// runs it against the allow-listed endpoint (with the configured secret
// header), feeds the output back, and the model answers with it. Every
// model call and the tool call are in the ledger.
func TestServerToolLoop(t *testing.T) {
	forStores(t, func(t *testing.T, kind string) {
		env := startTools(t, kind, 0, "weather", "clock")
		ctx := context.Background()
		resp, err := env.c.Responses.New(ctx, responses.ResponseNewParams{Model: "sim-openai", Input: textInput("What is the weather?")},
			serverTools("weather"))
		if err != nil {
			t.Fatalf("create: %v", err)
		}
		if got := itemTypes(resp.Output); !slices.Equal(got, []string{"function_call", "function_call_output", "message"}) {
			t.Fatalf("output = %v, want function_call, function_call_output, message", got)
		}
		call, out := resp.Output[0], decodeItem(t, resp.Output[1])
		if call.Name != "weather" || call.Arguments.OfString != `{"city":"Paris"}` || out.CallID != call.CallID {
			t.Errorf("call = %s(%s) %s, output call_id %s", call.Name, call.Arguments.OfString, call.CallID, out.CallID)
		}
		if out.Output != "sunny in Paris" || out.Status != "completed" || out.Causeway["status"] != float64(200) || out.Causeway["tool"] != "weather" {
			t.Errorf("tool output = %+v", out)
		}
		if want := "The tool returned: sunny in Paris."; resp.OutputText() != want || resp.Status != "completed" {
			t.Errorf("answer = %q (%s), want %q", resp.OutputText(), resp.Status, want)
		}
		if env.tt.hits.Load() != 1 || env.tt.last.Load() != "tool-secret" {
			t.Errorf("tool endpoint hits = %d, key header %v", env.tt.hits.Load(), env.tt.last.Load())
		}
		if strings.Contains(resp.RawJSON(), "tool-secret") {
			t.Error("the tool's secret header is in the response")
		}

		// Stored as returned.
		got, err := env.c.Responses.Get(ctx, resp.ID, responses.ResponseGetParams{})
		if err != nil || !slices.Equal(itemTypes(got.Output), itemTypes(resp.Output)) || got.OutputText() != resp.OutputText() {
			t.Errorf("get = %v, %v", got, err)
		}

		// Usage: two model calls (each its own request id, listed on the
		// response) and one tool call.
		var info struct {
			Causeway struct {
				RequestIDs []string `json:"request_ids"`
			} `json:"causeway"`
		}
		_ = json.Unmarshal([]byte(resp.RawJSON()), &info)
		ids := info.Causeway.RequestIDs
		if len(ids) != 2 || ids[1] != ids[0]+"-2" {
			t.Fatalf("causeway.request_ids = %v, want two, the second <first>-2", ids)
		}
		recs := ledger(t, env.e, 3)
		var chats, tools int
		for _, r := range recs {
			switch r.Endpoint {
			case "chat":
				chats++
				if !slices.Contains(ids, r.RequestID) || r.Alias != "sim-openai" {
					t.Errorf("chat record %+v not one of the response's calls", r)
				}
			case "tool":
				tools++
				if r.RequestID != ids[0] || r.Provider != "tool" || r.UpstreamModel != "weather" || r.Alias != "sim-openai" ||
					r.Status != billing.StatusOK || r.Attempt <= 1000 || r.CostNanoUSD != 0 {
					t.Errorf("tool record = %+v", r)
				}
			}
		}
		if chats != 2 || tools != 1 {
			t.Errorf("ledger: %d chat and %d tool records, want 2 and 1", chats, tools)
		}
	})
}

// TestServerToolLoopStream: the same loop streamed: the tool's call and
// output items are streamed between the model turns, numbered in order.
func TestServerToolLoopStream(t *testing.T) {
	env := startTools(t, "sqlite", 0, "weather")
	stream := env.c.Responses.NewStreaming(context.Background(),
		responses.ResponseNewParams{Model: "sim-openai", Input: textInput("What is the weather?")}, serverTools("weather"))
	var types []string
	var seq []int64
	var final responses.Response
	for stream.Next() {
		ev := stream.Current()
		seq = append(seq, ev.SequenceNumber)
		switch ev.Type {
		case "response.output_item.added", "response.output_item.done":
			types = append(types, ev.Type+":"+ev.Item.Type)
		case "response.completed":
			final = ev.Response
			types = append(types, ev.Type)
		case "response.created", "response.in_progress":
			types = append(types, ev.Type)
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatalf("stream: %v", err)
	}
	want := []string{"response.created", "response.in_progress",
		"response.output_item.added:function_call", "response.output_item.done:function_call",
		"response.output_item.added:function_call_output", "response.output_item.done:function_call_output",
		"response.output_item.added:message", "response.output_item.done:message", "response.completed"}
	if !slices.Equal(types, want) {
		t.Errorf("events = %v\nwant %v", types, want)
	}
	for i, s := range seq {
		if s != int64(i) {
			t.Fatalf("sequence numbers = %v, want 0…", seq)
		}
	}
	if final.OutputText() != "The tool returned: sunny in Paris." || len(final.Output) != 3 {
		t.Errorf("final = %q, %d items", final.OutputText(), len(final.Output))
	}
	// The replay is the same.
	got, err := env.c.Responses.Get(context.Background(), final.ID, responses.ResponseGetParams{})
	if err != nil || got.OutputText() != final.OutputText() {
		t.Errorf("get: %v %v", got, err)
	}
}

// TestServerToolParallel: two calls in one turn run and are both answered;
// max_tool_calls 1 runs the first and refuses the second.
func TestServerToolParallel(t *testing.T) {
	env := startTools(t, "sqlite", 0, "weather", "clock")
	ctx := context.Background()
	resp, err := env.c.Responses.New(ctx, responses.ResponseNewParams{Model: "sim-openai", Input: textInput("Weather and time, in parallel")},
		serverTools("weather", "clock"))
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if got := itemTypes(resp.Output); !slices.Equal(got, []string{"function_call", "function_call", "function_call_output", "function_call_output", "message"}) {
		t.Fatalf("output = %v", got)
	}
	if want := "The tool returned: sunny in Paris; noon."; resp.OutputText() != want {
		t.Errorf("answer = %q, want %q", resp.OutputText(), want)
	}

	hits := env.tt.hits.Load()
	resp, err = env.c.Responses.New(ctx, responses.ResponseNewParams{Model: "sim-openai", Input: textInput("Weather and time, in parallel"),
		MaxToolCalls: openai.Int(1)}, serverTools("weather", "clock"))
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if resp.Status != "incomplete" || resp.IncompleteDetails.Reason != "max_tool_calls" {
		t.Errorf("status = %s %+v, want incomplete max_tool_calls", resp.Status, resp.IncompleteDetails)
	}
	if got := itemTypes(resp.Output); !slices.Equal(got, []string{"function_call", "function_call", "function_call_output", "function_call_output"}) {
		t.Fatalf("output = %v", got)
	}
	if o := decodeItem(t, resp.Output[3]); o.Output != "max_tool_calls reached" || o.Causeway["refused"] != true {
		t.Errorf("second output = %+v", o)
	}
	if n := env.tt.hits.Load() - hits; n != 1 {
		t.Errorf("tool endpoint hit %d times with max_tool_calls 1", n)
	}
}

// TestServerToolNotAllowed: a key that does not list a tool cannot have
// it offered (400, and nothing runs).
func TestServerToolNotAllowed(t *testing.T) {
	env := startTools(t, "sqlite", 0, "clock")
	_, err := env.c.Responses.New(context.Background(), responses.ResponseNewParams{Model: "sim-openai", Input: textInput("Weather?")},
		serverTools("weather"))
	if oaiStatus(err) != 400 || !strings.Contains(oaiMessage(err), "not available to this key") {
		t.Errorf("err = %v, want 400 not available", err)
	}
	_, err = env.c.Responses.New(context.Background(), responses.ResponseNewParams{Model: "sim-openai", Input: textInput("Weather?")},
		serverTools("no_such_tool"))
	if oaiStatus(err) != 400 || !strings.Contains(oaiMessage(err), "not available to this key") {
		t.Errorf("unknown tool: err = %v, want the same 400", err)
	}
	if env.tt.hits.Load() != 0 {
		t.Error("a tool ran")
	}
}

// TestServerToolInjectedCall: a model that calls a server-side tool it
// was not offered (as if told to by a tool's output or a document) gets
// a refusal as the output, the tool does not run, and the attempt is in
// the response. The model here is a scripted OpenAI upstream that always
// calls "weather", whatever it was offered.
func TestServerToolInjectedCall(t *testing.T) {
	var offered atomic.Value
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Messages []struct {
				Role    string `json:"role"`
				Content any    `json:"content"`
			} `json:"messages"`
			Tools []struct {
				Function struct {
					Name string `json:"name"`
				} `json:"function"`
			} `json:"tools"`
		}
		_ = json.NewDecoder(r.Body).Decode(&req)
		var names []string
		for _, tl := range req.Tools {
			names = append(names, tl.Function.Name)
		}
		offered.Store(strings.Join(names, ","))
		last := req.Messages[len(req.Messages)-1]
		msg := map[string]any{"role": "assistant", "content": nil, "tool_calls": []any{map[string]any{
			"id": "call_evil", "type": "function", "function": map[string]any{"name": "weather", "arguments": `{"city":"Paris"}`}}}}
		finish := "tool_calls"
		if last.Role == "tool" {
			msg, finish = map[string]any{"role": "assistant", "content": fmt.Sprint("saw: ", last.Content)}, "stop"
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "scripted",
			"choices": []any{map[string]any{"index": 0, "message": msg, "finish_reason": finish}},
			"usage":   map[string]any{"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8}})
	}))
	defer upstream.Close()
	tt := startToolTarget(t)
	extra := fmt.Sprintf(`
  - alias: scripted
    targets: [{provider: scripted, model: scripted, price: {input_per_mtok: 1, output_per_mtok: 1}}]
`)
	cfg := toolsConfig(tt, 0, extra)
	cfg = strings.Replace(cfg, "providers:\n", fmt.Sprintf("providers:\n  - name: scripted\n    type: openai\n    base_url: %s/v1\n", upstream.URL), 1)
	e := servertest.Start(t, servertest.Options{Config: cfg})
	// The key may use weather, but this request offers only a client tool
	// and the clock: weather is not offered, so it must not run.
	_, key := e.CreateKey(t, server.KeyRequest{Name: "alice", User: "alice", Tools: []string{"weather", "clock"}})
	c := newClient(e.URL, key)
	resp, err := c.Responses.New(context.Background(), responses.ResponseNewParams{Model: "scripted", Input: textInput("Summarise this page")},
		option.WithJSONSet("tools", []map[string]any{{"type": "function", "name": "lookup", "parameters": map[string]any{"type": "object"}}, {"type": "causeway", "name": "clock"}}))
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if got := offered.Load(); got != "lookup,clock" {
		t.Errorf("the model was offered %v, want lookup,clock", got)
	}
	if got := itemTypes(resp.Output); !slices.Equal(got, []string{"function_call", "function_call_output", "message"}) {
		t.Fatalf("output = %v", got)
	}
	out := decodeItem(t, resp.Output[1])
	if out.Output != "tool weather is not allowed for this key" || out.Causeway["refused"] != true || out.Status != "incomplete" {
		t.Errorf("output = %+v, want the refusal", out)
	}
	if !strings.Contains(resp.OutputText(), "not allowed") {
		t.Errorf("answer = %q: the model did not see the refusal", resp.OutputText())
	}
	if tt.hits.Load() != 0 {
		t.Errorf("the tool endpoint was reached %d times", tt.hits.Load())
	}
}

// TestServerToolStepLimit: with max_steps 1 the tool still runs (so the
// call has its output and the response can be continued) but the model is
// not called again: the response is incomplete with max_tool_calls.
func TestServerToolStepLimit(t *testing.T) {
	env := startTools(t, "sqlite", 1, "weather")
	ctx := context.Background()
	resp, err := env.c.Responses.New(ctx, responses.ResponseNewParams{Model: "sim-openai", Input: textInput("Weather?")}, serverTools("weather"))
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if resp.Status != "incomplete" || resp.IncompleteDetails.Reason != "max_tool_calls" {
		t.Errorf("status = %s %+v", resp.Status, resp.IncompleteDetails)
	}
	if got := itemTypes(resp.Output); !slices.Equal(got, []string{"function_call", "function_call_output"}) {
		t.Errorf("output = %v", got)
	}
	// Continuing is valid: the model now answers from the output.
	next, err := env.c.Responses.New(ctx, responses.ResponseNewParams{Model: "sim-openai", PreviousResponseID: openai.String(resp.ID)},
		serverTools("weather"))
	if err != nil || next.OutputText() != "The tool returned: sunny in Paris." {
		t.Errorf("continue: %v %v", next.OutputText(), err)
	}
}

// TestServerToolRepeated: a model that makes the same call (name and
// arguments) a third time with no user message in between is stopped:
// the call is not run and its output says why.
func TestServerToolRepeated(t *testing.T) {
	env := startTools(t, "sqlite", 0, "weather")
	ctx := context.Background()
	developer := func(s string) responses.ResponseNewParamsInputUnion {
		return responses.ResponseNewParamsInputUnion{OfInputItemList: responses.ResponseInputParam{
			responses.ResponseInputItemParamOfMessage(s, responses.EasyInputMessageRoleDeveloper)}}
	}
	first, err := env.c.Responses.New(ctx, responses.ResponseNewParams{Model: "sim-openai", Input: textInput("Weather?")}, serverTools("weather"))
	if err != nil {
		t.Fatalf("first: %v", err)
	}
	second, err := env.c.Responses.New(ctx, responses.ResponseNewParams{Model: "sim-openai", Input: developer("Check again."),
		PreviousResponseID: openai.String(first.ID)}, serverTools("weather"))
	if err != nil || second.OutputText() != "The tool returned: sunny in Paris." {
		t.Fatalf("second: %v %v", second, err)
	}
	third, err := env.c.Responses.New(ctx, responses.ResponseNewParams{Model: "sim-openai", Input: developer("Check once more."),
		PreviousResponseID: openai.String(second.ID)}, serverTools("weather"))
	if err != nil {
		t.Fatalf("third: %v", err)
	}
	if got := itemTypes(third.Output); !slices.Equal(got, []string{"function_call", "function_call_output"}) {
		t.Fatalf("third output = %v", got)
	}
	if o := decodeItem(t, third.Output[1]); o.Output != "repeated identical call" || o.Causeway["refused"] != true {
		t.Errorf("third output = %+v", o)
	}
	if n := env.tt.hits.Load(); n != 2 {
		t.Errorf("tool endpoint hits = %d, want 2", n)
	}
	// A new user message starts the count again.
	fourth, err := env.c.Responses.New(ctx, responses.ResponseNewParams{Model: "sim-openai", Input: textInput("And now?"),
		PreviousResponseID: openai.String(third.ID)}, serverTools("weather"))
	if err != nil || fourth.OutputText() != "The tool returned: sunny in Paris." {
		t.Errorf("fourth: %v %v", fourth.OutputText(), err)
	}
}
