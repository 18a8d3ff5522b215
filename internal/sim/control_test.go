package sim_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"

	"github.com/causeway-ai/causeway/internal/sim"
)

// do sends a control request and returns the status and body.
func do(t *testing.T, method, url, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(raw)
}

// addFault registers a fault through the control API and returns its id.
func addFault(t *testing.T, srv *httptest.Server, body string) string {
	t.Helper()
	status, raw := do(t, "POST", srv.URL+"/sim/faults", body)
	var f struct {
		ID string `json:"id"`
	}
	if status != http.StatusCreated || json.Unmarshal([]byte(raw), &f) != nil || f.ID == "" {
		t.Fatalf("POST /sim/faults %s: %d %s", body, status, raw)
	}
	return f.ID
}

func apiError(t *testing.T, err error, status int) *openai.Error {
	t.Helper()
	apiErr, ok := errors.AsType[*openai.Error](err)
	if !ok || apiErr.StatusCode != status {
		t.Fatalf("err = %v, want an API error with status %d", err, status)
	}
	return apiErr
}

func TestFaultStatus(t *testing.T) {
	s, srv, client := newSim(t, sim.Options{})
	addFault(t, srv, `{"model":"primary","status":503,"probability":1.0,"retry_after_s":0,"cut_after_chunks":0,"stall_ms":0,"count":0}`)

	_, err := client.Chat.Completions.New(t.Context(), chatParams("primary", openai.UserMessage("hi")))
	if e := apiError(t, err, 503); e.Type != "server_error" || e.Message == "" {
		t.Errorf("error = %s", e.RawJSON())
	}
	res := stream(t, client, chatParams("primary", openai.UserMessage("hi")))
	apiError(t, res.err, 503)
	if _, err := client.Chat.Completions.New(t.Context(), chatParams("backup", openai.UserMessage("hi"))); err != nil {
		t.Errorf("backup: %v", err)
	}
	_, err = client.Embeddings.New(t.Context(), openai.EmbeddingNewParams{Model: "primary",
		Input: openai.EmbeddingNewParamsInputUnion{OfString: openai.String("x")}})
	apiError(t, err, 503)

	st := s.Stats()
	if st.Requests["primary"] != 3 || st.Completed["primary"] != 0 || st.Requests["backup"] != 1 || st.Completed["backup"] != 1 {
		t.Errorf("stats = %+v", st)
	}
}

func TestFaultRateLimitRetryAfter(t *testing.T) {
	_, srv, client := newSim(t, sim.Options{})
	addFault(t, srv, `{"model":"*","status":429,"retry_after_s":2}`)
	_, err := client.Chat.Completions.New(t.Context(), chatParams("any", openai.UserMessage("hi")))
	e := apiError(t, err, 429)
	if got := e.Response.Header.Get("Retry-After"); got != "2" {
		t.Errorf("Retry-After = %q, want 2", got)
	}
	if e.Type != "rate_limit_error" || e.Code != "rate_limit_exceeded" {
		t.Errorf("error = %s", e.RawJSON())
	}
}

func TestFaultCount(t *testing.T) {
	s, srv, client := newSim(t, sim.Options{})
	addFault(t, srv, `{"model":"m","status":500,"count":2}`)
	for i := range 2 {
		_, err := client.Chat.Completions.New(t.Context(), chatParams("m", openai.UserMessage("hi")))
		if e := apiError(t, err, 500); e.Type != "server_error" {
			t.Errorf("call %d: %s", i, e.RawJSON())
		}
	}
	if _, err := client.Chat.Completions.New(t.Context(), chatParams("m", openai.UserMessage("hi"))); err != nil {
		t.Errorf("third call: %v", err)
	}
	if faults := s.Faults(); len(faults) != 0 {
		t.Errorf("faults after count ran out = %+v", faults)
	}

	// The list shows what remains and what fired.
	addFault(t, srv, `{"model":"m","status":500,"count":3}`)
	_, _ = client.Chat.Completions.New(t.Context(), chatParams("m", openai.UserMessage("hi")))
	status, raw := do(t, "GET", srv.URL+"/sim/faults", "")
	var list struct {
		Faults []sim.Fault `json:"faults"`
	}
	if status != 200 || json.Unmarshal([]byte(raw), &list) != nil || len(list.Faults) != 1 ||
		list.Faults[0].Count != 2 || list.Faults[0].Applied != 1 {
		t.Errorf("GET /sim/faults = %d %s", status, raw)
	}
}

func TestFaultProbability(t *testing.T) {
	s := sim.New(sim.Options{})
	s.AddFault(sim.Fault{Model: "*", Status: 503, Probability: 0.5})
	faulted := 0
	for range 200 {
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, httptest.NewRequest("POST", "/v1/chat/completions",
			strings.NewReader(`{"model":"m","messages":[{"role":"user","content":"hi"}]}`)))
		if rec.Code == 503 {
			faulted++
		}
	}
	if faulted < 50 || faulted > 150 {
		t.Errorf("probability 0.5 faulted %d of 200 requests", faulted)
	}
}

func TestFaultCut(t *testing.T) {
	s, srv, client := newSim(t, sim.Options{})
	addFault(t, srv, `{"model":"m","cut_after_chunks":3}`)
	p := chatParams("m", openai.UserMessage("hi"))
	p.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
	res := stream(t, client, p)
	if res.err == nil {
		t.Fatal("cut stream ended without an error")
	}
	if len(res.chunks) != 3 {
		t.Errorf("got %d chunks before the cut, want 3", len(res.chunks))
	}
	if _, err := client.Chat.Completions.New(t.Context(), p); err == nil {
		t.Error("cut whole answer: no error")
	}
	// A cut after more events than the stream has still withholds [DONE].
	s.ClearFaults()
	addFault(t, srv, `{"model":"m","cut_after_chunks":1000}`)
	res = stream(t, client, p)
	if res.err == nil || res.acc.Usage.CompletionTokens < 20 {
		t.Errorf("cut after 1000: err %v after %d chunks", res.err, len(res.chunks))
	}
	if st := s.Stats(); st.Requests["m"] != 3 || st.Completed["m"] != 0 || st.OutputTokens["m"] != 0 {
		t.Errorf("stats = %+v", st)
	}
}

func TestFaultMalformed(t *testing.T) {
	s, srv, client := newSim(t, sim.Options{})
	addFault(t, srv, `{"model":"m","malformed":true}`)
	res := stream(t, client, chatParams("m", openai.UserMessage("hi")))
	if res.err == nil {
		t.Fatal("malformed stream: no error")
	}
	if len(res.chunks) != 1 {
		t.Errorf("got %d good chunks before the garbage, want 1", len(res.chunks))
	}
	if _, err := client.Chat.Completions.New(t.Context(), chatParams("m", openai.UserMessage("hi"))); err == nil {
		t.Error("malformed whole answer: no error")
	}
	if st := s.Stats(); st.Requests["m"] != 2 || st.Completed["m"] != 0 {
		t.Errorf("stats = %+v", st)
	}
}

func TestFaultStallHonoursCancellation(t *testing.T) {
	s, srv, client := newSim(t, sim.Options{})
	addFault(t, srv, `{"model":"slow","stall_ms":600000}`)

	// A request whose client has already gone returns without writing.
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	rec := httptest.NewRecorder()
	req := httptest.NewRequestWithContext(ctx, "POST", "/v1/chat/completions",
		strings.NewReader(`{"model":"slow","messages":[{"role":"user","content":"hi"}]}`))
	s.ServeHTTP(rec, req)
	if rec.Body.Len() != 0 || rec.Flushed {
		t.Errorf("stalled request wrote %q", rec.Body.String())
	}

	// Through the SDK: the client gives up once the simulator has the
	// request, and the call ends.
	ctx, cancel = context.WithCancel(t.Context())
	go cancelWhenReceived(s, "slow", 2, cancel)
	_, err := client.Chat.Completions.New(ctx, chatParams("slow", openai.UserMessage("hi")))
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
	if st := s.Stats(); st.Requests["slow"] != 2 || st.Completed["slow"] != 0 {
		t.Errorf("stats = %+v", st)
	}
}

// cancelWhenReceived cancels once the simulator has received n requests
// for model.
func cancelWhenReceived(s *sim.Sim, model string, n int64, cancel context.CancelFunc) {
	for s.Stats().Requests[model] < n {
		time.Sleep(time.Millisecond)
	}
	cancel()
}

func TestLatency(t *testing.T) {
	s, srv, client := newSim(t, sim.Options{TTFT: time.Millisecond, ITL: time.Millisecond})
	res := stream(t, client, chatParams("m", openai.UserMessage("hi")))
	if res.err != nil || res.contentChunks < 20 {
		t.Fatalf("stream with latency: %d chunks, %v", res.contentChunks, res.err)
	}
	if _, err := client.Chat.Completions.New(t.Context(), chatParams("m", openai.UserMessage("hi"))); err != nil {
		t.Fatal(err)
	}

	status, raw := do(t, "PUT", srv.URL+"/sim/latency", `{"ttft_ms":3600000}`)
	if status != 200 || raw != `{"ttft_ms":3600000,"itl_ms":1}` {
		t.Errorf("PUT /sim/latency = %d %s", status, raw)
	}
	if ttft, itl := s.Latency(); ttft != time.Hour || itl != time.Millisecond {
		t.Errorf("latency = %v, %v", ttft, itl)
	}
	// An hour's TTFT ends when the client does.
	ctx, cancel := context.WithCancel(t.Context())
	go cancelWhenReceived(s, "m", 3, cancel)
	if res := streamCtx(ctx, t, client, chatParams("m", openai.UserMessage("hi"))); !errors.Is(res.err, context.Canceled) {
		t.Errorf("stream during an hour's TTFT: err = %v, want context.Canceled", res.err)
	}

	if status, raw := do(t, "PUT", srv.URL+"/sim/latency", `{"ttft_ms":-1}`); status != 400 {
		t.Errorf("negative latency: %d %s", status, raw)
	}
	if status, raw := do(t, "GET", srv.URL+"/sim/latency", ""); status != 200 || raw != `{"ttft_ms":3600000,"itl_ms":1}` {
		t.Errorf("GET /sim/latency = %d %s", status, raw)
	}
}

func TestControlAPI(t *testing.T) {
	s, srv, _ := newSim(t, sim.Options{})
	for _, body := range []string{
		`{"model":"m","status":200}`,
		`{"model":"m","probability":1.5}`,
		`{"model":"m","count":-1}`,
		`{"model":"m","stauts":503}`,
		`not json`,
	} {
		if status, raw := do(t, "POST", srv.URL+"/sim/faults", body); status != 400 {
			t.Errorf("POST %s = %d %s, want 400", body, status, raw)
		}
	}
	id := addFault(t, srv, `{"model":"m","status":502}`)
	addFault(t, srv, `{"model":"n","status":502}`)
	if status, _ := do(t, "DELETE", srv.URL+"/sim/faults/"+id, ""); status != 204 {
		t.Errorf("DELETE fault = %d, want 204", status)
	}
	if status, _ := do(t, "DELETE", srv.URL+"/sim/faults/"+id, ""); status != 404 {
		t.Errorf("DELETE deleted fault = %d, want 404", status)
	}
	if n := len(s.Faults()); n != 1 {
		t.Errorf("%d faults left, want 1", n)
	}
	if status, _ := do(t, "DELETE", srv.URL+"/sim/faults", ""); status != 204 || len(s.Faults()) != 0 {
		t.Errorf("DELETE /sim/faults = %d, %d faults left", status, len(s.Faults()))
	}
	if status, raw := do(t, "GET", srv.URL+"/sim/faults", ""); status != 200 || raw != `{"faults":[]}` {
		t.Errorf("GET /sim/faults = %d %s", status, raw)
	}
	if status, raw := do(t, "GET", srv.URL+"/sim/stats", ""); status != 200 ||
		raw != `{"requests":{},"completed":{},"output_tokens":{},"input_tokens":{}}` {
		t.Errorf("GET /sim/stats = %d %s", status, raw)
	}
}

func TestStatsExact(t *testing.T) {
	s, srv, client := newSim(t, sim.Options{})
	var out, in int64
	for range 2 {
		resp, err := client.Chat.Completions.New(t.Context(), chatParams("m", openai.UserMessage("one two three")))
		if err != nil {
			t.Fatal(err)
		}
		out += resp.Usage.CompletionTokens
		in += resp.Usage.PromptTokens
	}
	p := chatParams("m", openai.UserMessage("four"))
	p.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
	res := stream(t, client, p)
	if res.err != nil {
		t.Fatal(res.err)
	}
	out += res.acc.Usage.CompletionTokens
	in += res.acc.Usage.PromptTokens
	addFault(t, srv, `{"model":"m","status":503,"count":1}`)
	_, _ = client.Chat.Completions.New(t.Context(), chatParams("m", openai.UserMessage("hi")))

	status, raw := do(t, "GET", srv.URL+"/sim/stats", "")
	var st sim.Stats
	if status != 200 || json.Unmarshal([]byte(raw), &st) != nil {
		t.Fatalf("GET /sim/stats = %d %s", status, raw)
	}
	want := sim.Stats{
		Requests:     map[string]int64{"m": 4},
		Completed:    map[string]int64{"m": 3},
		OutputTokens: map[string]int64{"m": out},
		InputTokens:  map[string]int64{"m": in},
	}
	if raw2, _ := json.Marshal(want); string(raw2) != raw {
		t.Errorf("stats = %s, want %s", raw, raw2)
	}
	if in != 2*(4+3)+(4+1) {
		t.Errorf("input tokens = %d, want %d", in, 2*(4+3)+(4+1))
	}
	if status, _ := do(t, "DELETE", srv.URL+"/sim/stats", ""); status != 204 {
		t.Errorf("DELETE /sim/stats = %d", status)
	}
	if st := s.Stats(); len(st.Requests) != 0 {
		t.Errorf("stats after reset = %+v", st)
	}
}

func TestListen(t *testing.T) {
	s := sim.New(sim.Options{})
	srv, ln, err := s.Listen(t.Context(), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	status, raw := do(t, "GET", "http://"+ln.Addr().String()+"/v1/models", "")
	if status != 200 || !strings.Contains(raw, `"gpt-4o"`) {
		t.Errorf("GET /v1/models = %d %s", status, raw)
	}
	if err := srv.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, http.ErrServerClosed) {
		t.Errorf("Serve = %v, want ErrServerClosed", err)
	}
}
