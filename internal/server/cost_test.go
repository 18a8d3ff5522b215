package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/conversations"
	"github.com/openai/openai-go/v3/responses"

	"github.com/causeway-ai/causeway/internal/billing"
	respdoor "github.com/causeway-ai/causeway/internal/frontdoor/responses"
	"github.com/causeway-ai/causeway/internal/identity"
	"github.com/causeway-ai/causeway/internal/runtime"
	"github.com/causeway-ai/causeway/internal/server"
	"github.com/causeway-ai/causeway/internal/server/servertest"
	"github.com/causeway-ai/causeway/internal/tokens"
)

// slowMeter makes the meter write only when asked, so that a cost read
// right after a response sees it only if the route flushes the meter.
func slowMeter(cfg string) string {
	return strings.Replace(cfg, "flush_interval: 20ms", "flush_interval: 1h", 1)
}

type costEnv struct {
	e        *servertest.Env
	c        openai.Client
	key, bob string
}

func startCost(t *testing.T, kind string) costEnv {
	t.Helper()
	tt := startToolTarget(t)
	e := servertest.Start(t, servertest.Options{Store: kind, Config: slowMeter(toolsConfig(tt, 0, ""))})
	_, key := e.CreateKey(t, server.KeyRequest{Name: "alice", User: "alice", Tools: []string{"weather"}})
	_, bob := e.CreateKey(t, server.KeyRequest{Name: "bob", User: "bob", Tools: []string{"weather"}})
	return costEnv{e: e, c: newClient(e.URL, key), key: key, bob: bob}
}

// getCost reads a cost route as key; it fails the test unless the status
// is 200.
func getCost(t *testing.T, env costEnv, path string) runtime.Cost {
	t.Helper()
	st, _, body := raw(t, http.MethodGet, env.e.URL+path, env.key, "")
	if st != 200 {
		t.Fatalf("GET %s: %d %s", path, st, body)
	}
	var c runtime.Cost
	if err := json.Unmarshal(body, &c); err != nil {
		t.Fatalf("GET %s: %s: %v", path, body, err)
	}
	return c
}

// records lists the ledger's records matching f (the meter flushed).
func records(t *testing.T, e *servertest.Env, f billing.UsageFilter) []billing.Record {
	t.Helper()
	e.Server.Meter().Flush(context.Background())
	f.Tenant = identity.DefaultTenant
	recs, err := e.Store.ListUsage(context.Background(), f, 1000)
	if err != nil {
		t.Fatalf("list usage: %v", err)
	}
	return recs
}

// TestResponseCost: a response that makes two model calls and one
// server-side tool call costs exactly the sum of its ledger records, read
// right after it ends; every record carries the response's id.
func TestResponseCost(t *testing.T) {
	forStores(t, func(t *testing.T, kind string) {
		env := startCost(t, kind)
		ctx := context.Background()
		resp, err := env.c.Responses.New(ctx, responses.ResponseNewParams{Model: "sim-openai", Input: textInput("What is the weather?")},
			serverTools("weather"))
		if err != nil {
			t.Fatalf("create: %v", err)
		}
		if got := itemTypes(resp.Output); !slices.Equal(got, []string{"function_call", "function_call_output", "message"}) {
			t.Fatalf("output = %v, want a tool call, its output and a message", got)
		}
		// No wait: the route flushes the meter, which on its own would
		// not write for an hour.
		c := getCost(t, env, "/v1/responses/"+resp.ID+"/cost")

		recs := records(t, env.e, billing.UsageFilter{ResponseID: resp.ID})
		var cost, in, out, cached int64
		for _, r := range recs {
			if r.ResponseID != resp.ID || r.ConversationID != "" {
				t.Errorf("record %s/%d tied to %q/%q, want %s and no conversation", r.RequestID, r.Attempt, r.ResponseID, r.ConversationID, resp.ID)
			}
			cost += r.CostNanoUSD
			in += r.InputTokens
			out += r.OutputTokens
			cached += r.CachedTokens
		}
		if len(recs) != 3 {
			t.Fatalf("ledger holds %d records of the response, want 3 (2 model calls, 1 tool call): %+v", len(recs), recs)
		}
		if cost <= 0 || c.TotalCostNanoUSD != cost || c.TotalCostUSD != billing.USD(cost) {
			t.Errorf("total = %d nano-USD (%v USD), want the ledger's %d (> 0)", c.TotalCostNanoUSD, c.TotalCostUSD, cost)
		}
		if c.Object != "response.cost" || c.ID != resp.ID || c.Currency != "USD" || c.Responses != nil {
			t.Errorf("cost head = %s %s %s responses %v", c.Object, c.ID, c.Currency, c.Responses)
		}
		if c.InputTokens != in || c.OutputTokens != out || c.CachedTokens != cached {
			t.Errorf("tokens = %d in, %d out, %d cached; ledger %d, %d, %d", c.InputTokens, c.OutputTokens, c.CachedTokens, in, out, cached)
		}
		if resp.Usage.InputTokens != in || resp.Usage.OutputTokens != out {
			t.Errorf("response usage = %d in, %d out; ledger %d, %d", resp.Usage.InputTokens, resp.Usage.OutputTokens, in, out)
		}
		if c.ModelCalls != 2 || c.ToolCalls != 1 {
			t.Errorf("calls = %d model, %d tool, want 2 and 1", c.ModelCalls, c.ToolCalls)
		}
		wantModel := []runtime.ModelCost{{Model: "sim-openai", Provider: "sim", UpstreamModel: "gpt-4.1-mini", Endpoint: "chat",
			Calls: 2, InputTokens: in, OutputTokens: out, CachedTokens: cached, CostNanoUSD: cost, CostUSD: billing.USD(cost)}}
		if !slices.Equal(c.ByModel, wantModel) {
			t.Errorf("by_model = %+v, want %+v", c.ByModel, wantModel)
		}
		if want := []runtime.ToolCost{{Tool: "weather", Calls: 1}}; !slices.Equal(c.ByTool, want) {
			t.Errorf("by_tool = %+v, want %+v", c.ByTool, want)
		}

		// Another response's calls are not this one's.
		second, err := env.c.Responses.New(ctx, responses.ResponseNewParams{Model: "sim-openai", Input: textInput("Hi"),
			PreviousResponseID: openai.String(resp.ID)})
		if err != nil {
			t.Fatalf("second: %v", err)
		}
		if again := getCost(t, env, "/v1/responses/"+resp.ID+"/cost"); again.TotalCostNanoUSD != c.TotalCostNanoUSD {
			t.Errorf("first response's cost moved from %d to %d after a second response", c.TotalCostNanoUSD, again.TotalCostNanoUSD)
		}
		if c2 := getCost(t, env, "/v1/responses/"+second.ID+"/cost"); c2.ModelCalls != 1 || c2.ToolCalls != 0 || len(c2.ByTool) != 0 || c2.TotalCostNanoUSD <= 0 {
			t.Errorf("second response's cost = %+v, want one model call, no tool", c2)
		}
	})
}

// TestConversationCost: three responses in a conversation, on two
// aliases, add up to the conversation's cost.
func TestConversationCost(t *testing.T) {
	forStores(t, func(t *testing.T, kind string) {
		env := startCost(t, kind)
		ctx := context.Background()
		conv, err := env.c.Conversations.New(ctx, conversations.ConversationNewParams{})
		if err != nil {
			t.Fatalf("conversation: %v", err)
		}
		var sum, calls int64
		for i, model := range []string{"sim-openai", "sim-other", "sim-openai"} {
			r, err := env.c.Responses.New(ctx, responses.ResponseNewParams{Model: model, Input: textInput(strings.Repeat("turn ", i+1)),
				Conversation: responses.ResponseNewParamsConversationUnion{OfString: openai.String(conv.ID)}})
			if err != nil {
				t.Fatalf("response %d: %v", i, err)
			}
			rc := getCost(t, env, "/v1/responses/"+r.ID+"/cost")
			if rc.ModelCalls != 1 || rc.ByModel[0].Model != model {
				t.Errorf("response %d cost = %+v, want one call on %s", i, rc, model)
			}
			sum += rc.TotalCostNanoUSD
			calls += rc.ModelCalls
		}
		// A response outside the conversation is not in its cost.
		if _, err := env.c.Responses.New(ctx, responses.ResponseNewParams{Model: "sim-openai", Input: textInput("aside")}); err != nil {
			t.Fatalf("aside: %v", err)
		}
		c := getCost(t, env, "/v1/conversations/"+conv.ID+"/cost")
		if c.Object != "conversation.cost" || c.ID != conv.ID || c.Responses == nil || *c.Responses != 3 {
			t.Errorf("cost head = %s %s responses %v, want conversation.cost of %s with 3 responses", c.Object, c.ID, c.Responses, conv.ID)
		}
		if sum <= 0 || c.TotalCostNanoUSD != sum || c.ModelCalls != calls {
			t.Errorf("conversation = %d nano-USD in %d calls, want the responses' %d in %d", c.TotalCostNanoUSD, c.ModelCalls, sum, calls)
		}
		var ledgerSum int64
		recs := records(t, env.e, billing.UsageFilter{ConversationID: conv.ID})
		for _, r := range recs {
			ledgerSum += r.CostNanoUSD
			if r.ConversationID != conv.ID || !strings.HasPrefix(r.ResponseID, "resp_") {
				t.Errorf("record %s tied to %q/%q", r.RequestID, r.ResponseID, r.ConversationID)
			}
		}
		if len(recs) != 3 || ledgerSum != sum {
			t.Errorf("ledger: %d records costing %d, want 3 costing %d", len(recs), ledgerSum, sum)
		}
		var models []string
		var byModelSum int64
		for _, m := range c.ByModel {
			models = append(models, m.Model+":"+m.UpstreamModel)
			byModelSum += m.CostNanoUSD
			if want := map[string]int64{"sim-openai": 2, "sim-other": 1}[m.Model]; m.Calls != want {
				t.Errorf("by_model %s: %d calls, want %d", m.Model, m.Calls, want)
			}
		}
		if !slices.Equal(models, []string{"sim-openai:gpt-4.1-mini", "sim-other:other-model"}) || byModelSum != sum {
			t.Errorf("by_model = %v costing %d, want sim-openai and sim-other costing %d", models, byModelSum, sum)
		}
	})
}

// TestCostScopedToOwner: another user's response and conversation ids
// are 404s on the cost routes, with the same messages as the GET routes.
func TestCostScopedToOwner(t *testing.T) {
	env := startCost(t, "sqlite")
	ctx := context.Background()
	conv, err := env.c.Conversations.New(ctx, conversations.ConversationNewParams{})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := env.c.Responses.New(ctx, responses.ResponseNewParams{Model: "sim-openai", Input: textInput("hi"),
		Conversation: responses.ResponseNewParamsConversationUnion{OfString: openai.String(conv.ID)}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ cost, get string }{
		{"/v1/responses/" + resp.ID + "/cost", "/v1/responses/" + resp.ID},
		{"/v1/conversations/" + conv.ID + "/cost", "/v1/conversations/" + conv.ID},
		{"/v1/responses/resp_nope/cost", "/v1/responses/resp_nope"},
		{"/v1/conversations/conv_nope/cost", "/v1/conversations/conv_nope"},
	} {
		st, _, body := raw(t, http.MethodGet, env.e.URL+tc.cost, env.bob, "")
		gst, _, gbody := raw(t, http.MethodGet, env.e.URL+tc.get, env.bob, "")
		var e1, e2 struct {
			Error struct{ Message, Type string } `json:"error"`
		}
		_ = json.Unmarshal(body, &e1)
		_ = json.Unmarshal(gbody, &e2)
		if st != 404 || gst != 404 || e1.Error.Message == "" || e1.Error != e2.Error {
			t.Errorf("bob GET %s: %d %s; GET %s: %d %s; want the same 404", tc.cost, st, body, tc.get, gst, gbody)
		}
	}
	for _, r := range respdoor.CostRoutes() {
		method, path, _ := strings.Cut(r, " ")
		path = strings.ReplaceAll(path, "{id}", resp.ID)
		if st, _, _ := raw(t, method, env.e.URL+path, "", `{"model":"sim-openai","input":"hi"}`); st != 401 {
			t.Errorf("%s without a key: %d, want 401", r, st)
		}
	}
}

// TestInputTokens: POST /v1/responses/input_tokens through the SDK counts
// what the response would send: the input, instructions, tools and the
// history, which it reads as the caller (another user's previous
// response is a 404).
func TestInputTokens(t *testing.T) {
	env := startCost(t, "sqlite")
	ctx := context.Background()
	count := func(p responses.InputTokenCountParams) int64 {
		t.Helper()
		n, err := env.c.Responses.InputTokens.Count(ctx, p)
		if err != nil {
			t.Fatalf("count %+v: %v", p, err)
		}
		if n.Object != "response.input_tokens" {
			t.Errorf("object = %q", n.Object)
		}
		return n.InputTokens
	}
	hello := responses.InputTokenCountParamsInputUnion{OfString: openai.String("Hello, world")}
	// "Hello, world" is 3 tokens in o200k_base, plus a message's framing.
	if n := count(responses.InputTokenCountParams{Model: openai.String("sim-openai"), Input: hello}); n != 3+tokens.PerMessage {
		t.Errorf("count(Hello, world) = %d, want %d", n, 3+tokens.PerMessage)
	}
	if n := count(responses.InputTokenCountParams{Input: hello}); n != 3+tokens.PerMessage {
		t.Errorf("count without a model = %d, want %d", n, 3+tokens.PerMessage)
	}
	base := count(responses.InputTokenCountParams{Model: openai.String("sim-openai"), Input: hello})
	withInstr := count(responses.InputTokenCountParams{Model: openai.String("sim-openai"), Input: hello,
		Instructions: openai.String("Answer in French, briefly.")})
	if withInstr <= base {
		t.Errorf("instructions: %d tokens, not more than %d", withInstr, base)
	}

	// History: each turn makes the next count larger.
	prev := ""
	last := base
	for i := range 2 {
		p := responses.ResponseNewParams{Model: "sim-openai", Input: textInput("Tell me something.")}
		if prev != "" {
			p.PreviousResponseID = openai.String(prev)
		}
		r, err := env.c.Responses.New(ctx, p)
		if err != nil {
			t.Fatalf("turn %d: %v", i, err)
		}
		prev = r.ID
		n := count(responses.InputTokenCountParams{Model: openai.String("sim-openai"), Input: hello, PreviousResponseID: openai.String(prev)})
		if n <= last {
			t.Errorf("after turn %d: %d tokens, want more than %d", i+1, n, last)
		}
		last = n
	}
	// Counting sends nothing upstream and stores nothing.
	before := records(t, env.e, billing.UsageFilter{})
	count(responses.InputTokenCountParams{Model: openai.String("sim-openai"), Input: hello, PreviousResponseID: openai.String(prev)})
	if after := records(t, env.e, billing.UsageFilter{}); len(after) != len(before) {
		t.Errorf("counting wrote %d usage records", len(after)-len(before))
	}

	bob := newClient(env.e.URL, env.bob)
	_, err := bob.Responses.InputTokens.Count(ctx, responses.InputTokenCountParams{Model: openai.String("sim-openai"), Input: hello,
		PreviousResponseID: openai.String(prev)})
	if oaiStatus(err) != 404 || !strings.Contains(oaiMessage(err), prev) {
		t.Errorf("bob counting with alice's response: %v, want 404", err)
	}
	_, err = env.c.Responses.InputTokens.Count(ctx, responses.InputTokenCountParams{Model: openai.String("no-such-model"), Input: hello})
	if oaiStatus(err) != 404 {
		t.Errorf("unknown model: %v, want 404", err)
	}
	_, err = env.c.Responses.InputTokens.Count(ctx, responses.InputTokenCountParams{Model: openai.String("sim-openai"), Input: hello,
		PreviousResponseID: openai.String(prev), Conversation: responses.InputTokenCountParamsConversationUnion{OfString: openai.String("conv_x")}})
	if oaiStatus(err) != 400 {
		t.Errorf("previous_response_id with conversation: %v, want 400", err)
	}
}

// TestAdminUsageGroupBy: GET /admin/v1/usage groups the ledger by
// conversation, response and tool, and filters by them.
func TestAdminUsageGroupBy(t *testing.T) {
	env := startCost(t, "sqlite")
	ctx := context.Background()
	conv, err := env.c.Conversations.New(ctx, conversations.ConversationNewParams{})
	if err != nil {
		t.Fatal(err)
	}
	withTool, err := env.c.Responses.New(ctx, responses.ResponseNewParams{Model: "sim-openai", Input: textInput("What is the weather?"),
		Conversation: responses.ResponseNewParamsConversationUnion{OfString: openai.String(conv.ID)}}, serverTools("weather"))
	if err != nil {
		t.Fatal(err)
	}
	plain, err := env.c.Responses.New(ctx, responses.ResponseNewParams{Model: "sim-other", Input: textInput("hi")})
	if err != nil {
		t.Fatal(err)
	}
	costOf := func(id string) int64 { return getCost(t, env, "/v1/responses/"+id+"/cost").TotalCostNanoUSD }

	v := env.e.Usage(t, "group_by=response")
	got := map[string]int64{}
	for _, g := range v.Groups {
		got[g.Key] = g.CostNanoUSD
	}
	if v.GroupBy != "response" || len(v.Groups) != 2 || got[withTool.ID] != costOf(withTool.ID) || got[plain.ID] != costOf(plain.ID) {
		t.Errorf("group_by=response = %+v, want %s and %s at their costs", v, withTool.ID, plain.ID)
	}
	v = env.e.Usage(t, "group_by=conversation")
	if len(v.Groups) != 1 || v.Groups[0].Key != conv.ID || v.Groups[0].CostNanoUSD != costOf(withTool.ID) || v.Groups[0].Calls != 3 {
		t.Errorf("group_by=conversation = %+v, want %s with 3 calls costing %d", v.Groups, conv.ID, costOf(withTool.ID))
	}
	v = env.e.Usage(t, "group_by=tool")
	if len(v.Groups) != 1 || v.Groups[0].Key != "weather" || v.Groups[0].Calls != 1 || v.Groups[0].CostNanoUSD != 0 {
		t.Errorf("group_by=tool = %+v, want weather, 1 call", v.Groups)
	}
	v = env.e.Usage(t, "response_id="+plain.ID)
	if v.Requests != 1 || billing.FromUSD(v.CostUSD) != costOf(plain.ID) || v.Groups != nil {
		t.Errorf("response_id filter = %+v, want one request costing %d", v, costOf(plain.ID))
	}
	if st := env.e.Admin(t, http.MethodGet, "/admin/v1/usage?group_by=tenant", nil, nil); st != 400 {
		t.Errorf("group_by=tenant: %d, want 400", st)
	}
}

// TestResponseCostStreamed: a streamed response's calls are in its cost
// as soon as its final event has arrived.
func TestResponseCostStreamed(t *testing.T) {
	env := startCost(t, "sqlite")
	stream := env.c.Responses.NewStreaming(context.Background(),
		responses.ResponseNewParams{Model: "sim-openai", Input: textInput("What is the weather?")}, serverTools("weather"))
	var final responses.Response
	for stream.Next() {
		if ev := stream.Current(); ev.Type == "response.completed" {
			final = ev.AsResponseCompleted().Response
			break
		}
	}
	if err := stream.Err(); err != nil || final.ID == "" {
		t.Fatalf("stream: %v, final %q", err, final.ID)
	}
	stream.Close()
	c := getCost(t, env, "/v1/responses/"+final.ID+"/cost")
	if c.ModelCalls != 2 || c.ToolCalls != 1 || c.InputTokens != final.Usage.InputTokens || c.OutputTokens != final.Usage.OutputTokens || c.TotalCostNanoUSD <= 0 {
		t.Errorf("cost = %+v; want 2 model calls, 1 tool call and the response's usage %d in, %d out",
			c, final.Usage.InputTokens, final.Usage.OutputTokens)
	}
}

// TestResponseCostBackground: a background response's calls, made after
// its HTTP request has ended, are tied to it too.
func TestResponseCostBackground(t *testing.T) {
	env := startCost(t, "sqlite")
	ctx := context.Background()
	r, err := env.c.Responses.New(ctx, responses.ResponseNewParams{Model: "sim-openai",
		Input: textInput("What is the weather?"), Background: openai.Bool(true)}, serverTools("weather"))
	if err != nil || r.Status != "queued" {
		t.Fatalf("create: %v, %v", r, err)
	}
	evs := drain(t, env.c.Responses.GetStreaming(ctx, r.ID, responses.ResponseGetParams{}), 0)
	if len(evs) == 0 || evs[len(evs)-1].Type != "response.completed" {
		t.Fatalf("background run did not complete: %d events", len(evs))
	}
	c := getCost(t, env, "/v1/responses/"+r.ID+"/cost")
	if c.ModelCalls != 2 || c.ToolCalls != 1 || c.TotalCostNanoUSD <= 0 {
		t.Errorf("cost = %+v, want 2 model calls and 1 tool call", c)
	}
}
