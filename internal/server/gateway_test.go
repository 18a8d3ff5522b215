package server_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/causeway-ai/causeway/internal/billing"
	oaidoor "github.com/causeway-ai/causeway/internal/frontdoor/openai"
	"github.com/causeway-ai/causeway/internal/server"
	"github.com/causeway-ai/causeway/internal/server/servertest"
	"github.com/causeway-ai/causeway/internal/sim"
)

type errorBody struct {
	Error struct {
		Message string  `json:"message"`
		Type    string  `json:"type"`
		Param   *string `json:"param"`
		Code    *string `json:"code"`
	} `json:"error"`
}

func decodeError(t *testing.T, b []byte) errorBody {
	t.Helper()
	var eb errorBody
	if err := json.Unmarshal(b, &eb); err != nil || eb.Error.Message == "" || eb.Error.Type == "" {
		t.Fatalf("body %s is not an OpenAI error (err %v)", b, err)
	}
	return eb
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

const hello = `{"model":"sim-openai","messages":[{"role":"user","content":"hi"}]}`

// TestBadInput checks each malformed or forbidden request gets OpenAI's
// error shape and status, and that nothing is metered as a success.
func TestBadInput(t *testing.T) {
	e := servertest.Start(t, servertest.Options{})
	_, key := e.CreateKey(t, server.KeyRequest{Name: "k"})
	_, limited := e.CreateKey(t, server.KeyRequest{Name: "limited", Models: []string{"sim-other"}})
	revokedID, revoked := e.CreateKey(t, server.KeyRequest{Name: "revoked"})
	if st := e.Admin(t, http.MethodDelete, "/admin/v1/keys/"+revokedID, nil, nil); st != 200 {
		t.Fatalf("revoke: status %d", st)
	}
	big := `{"model":"sim-openai","messages":[{"role":"user","content":"` + strings.Repeat("x", 70000) + `"}]}`
	tests := []struct {
		name, key, path, body string
		status                int
		code, param           string
	}{
		{"malformed json", key, "/v1/chat/completions", `{"model":`, 400, "invalid_json", ""},
		{"not an object", key, "/v1/chat/completions", `[1,2]`, 400, "invalid_json", ""},
		{"wrong type", key, "/v1/chat/completions", `{"model":"sim-openai","messages":"hi"}`, 400, "invalid_type", "messages"},
		{"wrong type nested", key, "/v1/chat/completions", `{"model":"sim-openai","messages":[{"role":"user","content":"x"}],"temperature":"hot"}`, 400, "invalid_type", "temperature"},
		{"missing model", key, "/v1/chat/completions", `{"messages":[{"role":"user","content":"hi"}]}`, 400, "missing_required_parameter", "model"},
		{"missing messages", key, "/v1/chat/completions", `{"model":"sim-openai"}`, 400, "missing_required_parameter", "messages"},
		{"empty messages", key, "/v1/chat/completions", `{"model":"sim-openai","messages":[]}`, 400, "empty_array", "messages"},
		{"bad role", key, "/v1/chat/completions", `{"model":"sim-openai","messages":[{"role":"wizard","content":"hi"}]}`, 400, "invalid_value", "messages[0].role"},
		{"tool without id", key, "/v1/chat/completions", `{"model":"sim-openai","messages":[{"role":"tool","content":"42"}]}`, 400, "missing_required_parameter", "messages[0].tool_call_id"},
		{"temperature range", key, "/v1/chat/completions", `{"model":"sim-openai","messages":[{"role":"user","content":"x"}],"temperature":3}`, 400, "", "temperature"},
		{"stream_options without stream", key, "/v1/chat/completions", `{"model":"sim-openai","messages":[{"role":"user","content":"x"}],"stream_options":{"include_usage":true}}`, 400, "", "stream_options"},
		{"unknown tool choice", key, "/v1/chat/completions", `{"model":"sim-openai","messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":"a"}}],"tool_choice":{"type":"function","function":{"name":"b"}}}`, 400, "", "tool_choice"},
		{"unknown model", key, "/v1/chat/completions", `{"model":"gpt-nope","messages":[{"role":"user","content":"hi"}]}`, 404, "model_not_found", "model"},
		{"forbidden model", limited, "/v1/chat/completions", hello, 403, "model_not_allowed", "model"},
		{"missing key", "", "/v1/chat/completions", hello, 401, "missing_api_key", ""},
		{"invalid key", "sk-cw-nonsense", "/v1/chat/completions", hello, 401, "invalid_api_key", ""},
		{"revoked key", revoked, "/v1/chat/completions", hello, 401, "invalid_api_key", ""},
		{"too large", key, "/v1/chat/completions", big, 413, "request_too_large", ""},
		{"embeddings missing input", key, "/v1/embeddings", `{"model":"sim-embed"}`, 400, "missing_required_parameter", "input"},
		{"embeddings token arrays", key, "/v1/embeddings", `{"model":"sim-embed","input":[[1,2,3]]}`, 400, "invalid_type", "input"},
		{"unknown path", key, "/v1/nothing", `{}`, 404, "unknown_url", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, _, body := e.Post(t, tt.key, tt.path, tt.body)
			if status != tt.status {
				t.Fatalf("status = %d, want %d; body %s", status, tt.status, body)
			}
			eb := decodeError(t, body)
			if tt.code != "" && str(eb.Error.Code) != tt.code {
				t.Errorf("code = %q, want %q (%s)", str(eb.Error.Code), tt.code, eb.Error.Message)
			}
			if str(eb.Error.Param) != tt.param {
				t.Errorf("param = %q, want %q", str(eb.Error.Param), tt.param)
			}
		})
	}
	if got := e.Sim.Stats().Requests["gpt-4.1-mini"]; got != 0 {
		t.Errorf("upstream saw %d requests for bad input, want 0", got)
	}
	if u := e.Usage(t, ""); u.Requests != 0 {
		t.Errorf("usage after bad input = %+v, want nothing metered", u)
	}
}

// TestTooLargeRefusedBeforeReading checks that a body announced as too
// large is refused without the server waiting for it.
func TestTooLargeRefusedBeforeReading(t *testing.T) {
	e := servertest.Start(t, servertest.Options{})
	_, key := e.CreateKey(t, server.KeyRequest{Name: "k"})
	pr, pw := io.Pipe()
	defer pw.Close()
	req, _ := http.NewRequest(http.MethodPost, e.URL+"/v1/chat/completions", pr)
	req.ContentLength = 10 << 20 // announced, never sent
	req.Header.Set("Authorization", "Bearer "+key)
	go func() { _, _ = pw.Write([]byte(`{"model":`)) }()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("request: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 413 {
		t.Fatalf("status = %d, want 413", resp.StatusCode)
	}
}

// TestRoutesRequireAuth enumerates the door's inference routes and checks
// that none answers without a key.
func TestRoutesRequireAuth(t *testing.T) {
	e := servertest.Start(t, servertest.Options{})
	for _, r := range oaidoor.Routes() {
		method, path, _ := strings.Cut(r, " ")
		path = strings.ReplaceAll(path, "{id...}", "sim-openai")
		req, _ := http.NewRequest(method, e.URL+path, strings.NewReader(hello))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 401 {
			t.Errorf("%s without a key: status %d, want 401", r, resp.StatusCode)
		}
	}
}

func TestRequestIDAndUsageExact(t *testing.T) {
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			e := servertest.Start(t, servertest.Options{Store: kind})
			id, key := e.CreateKey(t, server.KeyRequest{Name: "meter", Team: "t1", User: "u1"})
			const n = 10
			var wantIn, wantOut int64
			for i := range n {
				body := fmt.Sprintf(`{"model":"sim-openai","stream":%t,"messages":[{"role":"user","content":"count me %d"}]}`, i%2 == 0, i)
				status, h, b := e.Post(t, key, "/v1/chat/completions", body)
				if status != 200 {
					t.Fatalf("status %d: %s", status, b)
				}
				if !strings.HasPrefix(h.Get("X-Request-Id"), "req_") {
					t.Fatalf("x-request-id = %q", h.Get("X-Request-Id"))
				}
				if i%2 == 1 {
					var r struct {
						Usage struct{ PromptTokens, CompletionTokens int64 } `json:"usage"`
					}
					_ = json.Unmarshal(b, &r)
					_ = r
				}
			}
			st := e.Sim.Stats()
			wantOut = st.OutputTokens["gpt-4.1-mini"]
			wantIn = st.InputTokens["gpt-4.1-mini"]
			u := e.Usage(t, "key_id="+id)
			if u.Requests != n || u.OutputTokens != wantOut || u.InputTokens != wantIn {
				t.Fatalf("usage = %+v, want %d requests, %d in, %d out (from the simulator)", u, n, wantIn, wantOut)
			}
			wantCost := billing.USD(billing.PriceFromUSD(0.40, 1.60, 0.10, 0).Cost(llmUsage(wantIn, wantOut)))
			if diff := u.CostUSD - wantCost; diff > 1e-9*n || diff < -1e-9*n {
				t.Errorf("cost = %v, want %v", u.CostUSD, wantCost)
			}
			if u2 := e.Usage(t, "team=t1&user=u1"); u2.Requests != n {
				t.Errorf("usage by team/user = %+v, want %d requests", u2, n)
			}
			if u3 := e.Usage(t, "team=other"); u3.Requests != 0 {
				t.Errorf("usage for another team = %+v, want none", u3)
			}
			recs, err := e.Store.ListUsage(context.Background(), billing.UsageFilter{Tenant: "default", KeyID: id}, 100)
			if err != nil {
				t.Fatal(err)
			}
			streamed := 0
			for _, r := range recs {
				if r.Status != billing.StatusOK || r.Attempt != 1 || r.Provider != "sim" || r.UpstreamModel != "gpt-4.1-mini" || r.Alias != "sim-openai" || r.Team != "t1" || r.User != "u1" || r.HTTPStatus != 200 {
					t.Errorf("record %+v is not a complete ok record", r)
				}
				if r.Streamed {
					streamed++
					if r.TTFT <= 0 {
						t.Errorf("streamed record without TTFT: %+v", r)
					}
				}
			}
			if streamed != n/2 {
				t.Errorf("streamed records = %d, want %d", streamed, n/2)
			}
		})
	}
}

// TestClientDisconnectMidStreamIsBilled cuts the client off after the
// first chunk and checks that what the upstream produced is still billed.
func TestClientDisconnectMidStreamIsBilled(t *testing.T) {
	e := servertest.Start(t, servertest.Options{Sim: sim.Options{ITL: 5 * time.Millisecond}})
	id, key := e.CreateKey(t, server.KeyRequest{Name: "k"})
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, e.URL+"/v1/chat/completions",
		strings.NewReader(`{"model":"sim-openai","stream":true,"max_tokens":60,"messages":[{"role":"user","content":"a long answer"}]}`))
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "data: ") {
		t.Fatalf("first line %q, %v", line, err)
	}
	cancel()
	resp.Body.Close()
	servertest.WaitFor(t, "the simulator to finish the stream", func() bool { return e.Sim.Stats().Completed["gpt-4.1-mini"] == 1 })
	servertest.WaitFor(t, "the usage record", func() bool { return e.Usage(t, "key_id="+id).Requests == 1 })
	u := e.Usage(t, "key_id="+id)
	if want := e.Sim.Stats().OutputTokens["gpt-4.1-mini"]; u.OutputTokens != want || want < 2 {
		t.Fatalf("billed %d output tokens, upstream produced %d", u.OutputTokens, want)
	}
	recs, _ := e.Store.ListUsage(context.Background(), billing.UsageFilter{Tenant: "default", KeyID: id}, 10)
	if len(recs) != 1 || recs[0].Status != billing.StatusCanceled {
		t.Fatalf("records = %+v, want one canceled", recs)
	}
}

func readSSE(t *testing.T, b []byte) (events []string) {
	t.Helper()
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			events = append(events, d)
		}
	}
	return events
}

func addFault(t *testing.T, e *servertest.Env, f sim.Fault) {
	t.Helper()
	e.Sim.AddFault(f)
	t.Cleanup(e.Sim.ClearFaults)
}

func TestUpstreamFailures(t *testing.T) {
	e := servertest.Start(t, servertest.Options{})
	id, key := e.CreateKey(t, server.KeyRequest{Name: "k"})

	t.Run("unreachable", func(t *testing.T) {
		status, _, b := e.Post(t, key, "/v1/chat/completions", `{"model":"dead","messages":[{"role":"user","content":"x"}]}`)
		if status != 502 {
			t.Fatalf("status = %d, want 502: %s", status, b)
		}
		decodeError(t, b)
	})
	t.Run("timeout", func(t *testing.T) {
		addFault(t, e, sim.Fault{Model: "other-model", StallMS: 60_000, Probability: 1})
		yml := strings.Replace(servertest.DefaultConfig, "timeouts: {first_token: 5s, idle: 5s}", "timeouts: {first_token: 300ms, idle: 300ms, total: 1s}", 1)
		e2 := servertest.Start(t, servertest.Options{Config: yml})
		e2.Sim.AddFault(sim.Fault{Model: "gpt-4.1-mini", StallMS: 60_000, Probability: 1})
		_, key2 := e2.CreateKey(t, server.KeyRequest{Name: "k"})
		// A stream must start within the first-token timeout.
		status, _, b := e2.Post(t, key2, "/v1/chat/completions", `{"model":"sim-openai","stream":true,"messages":[{"role":"user","content":"hi"}]}`)
		if status != 504 {
			t.Fatalf("stream: status = %d, want 504: %s", status, b)
		}
		if eb := decodeError(t, b); !strings.Contains(eb.Error.Message, "first-token timeout") {
			t.Errorf("message %q does not name the first-token timeout", eb.Error.Message)
		}
		// A whole answer comes at the end: only the total timeout bounds it.
		status, _, b = e2.Post(t, key2, "/v1/chat/completions", hello)
		if status != 504 {
			t.Fatalf("whole: status = %d, want 504: %s", status, b)
		}
		if eb := decodeError(t, b); !strings.Contains(eb.Error.Message, "total timeout") {
			t.Errorf("message %q does not name the total timeout", eb.Error.Message)
		}
	})
	t.Run("upstream status", func(t *testing.T) {
		// A Retry-After beyond the alias's max_retry_after (10s) is not
		// waited for: the client gets the 429 and the upstream's advice.
		addFault(t, e, sim.Fault{Model: "gpt-4.1-mini", Status: 429, RetryAfterS: 30, Probability: 1})
		status, h, b := e.Post(t, key, "/v1/chat/completions", hello)
		if status != 429 || h.Get("Retry-After") != "30" {
			t.Fatalf("status = %d retry-after %q, want 429 and 30: %s", status, h.Get("Retry-After"), b)
		}
	})
	t.Run("garbage whole", func(t *testing.T) {
		addFault(t, e, sim.Fault{Model: "gpt-4.1-mini", Malformed: true, Probability: 1})
		status, _, b := e.Post(t, key, "/v1/chat/completions", hello)
		if status != 502 {
			t.Fatalf("status = %d, want 502: %s", status, b)
		}
		decodeError(t, b)
	})
	for _, f := range []struct {
		name  string
		fault sim.Fault
	}{
		{"garbage mid-stream", sim.Fault{Model: "gpt-4.1-mini", Malformed: true, CutAfterChunks: 3, Probability: 1, Count: 1}},
		{"cut stream", sim.Fault{Model: "gpt-4.1-mini", CutAfterChunks: 3, Probability: 1, Count: 1}},
	} {
		t.Run(f.name, func(t *testing.T) {
			addFault(t, e, f.fault)
			status, _, b := e.Post(t, key, "/v1/chat/completions", `{"model":"sim-openai","stream":true,"messages":[{"role":"user","content":"x"}]}`)
			if status != 200 {
				t.Fatalf("status = %d, want 200 (the stream had started): %s", status, b)
			}
			evs := readSSE(t, b)
			if len(evs) == 0 {
				t.Fatal("no events")
			}
			last := evs[len(evs)-1]
			if last == "[DONE]" {
				t.Fatalf("stream ended with [DONE] after an upstream failure: %q", evs)
			}
			decodeError(t, []byte(last))
		})
	}
	t.Run("garbage before content", func(t *testing.T) {
		// Nothing reached the client yet, so the failure is a plain 502.
		addFault(t, e, sim.Fault{Model: "gpt-4.1-mini", Malformed: true, Probability: 1})
		status, _, b := e.Post(t, key, "/v1/chat/completions", `{"model":"sim-openai","stream":true,"messages":[{"role":"user","content":"x"}]}`)
		if status != 502 {
			t.Fatalf("status = %d, want 502: %s", status, b)
		}
		decodeError(t, b)
	})
	t.Run("fallback", func(t *testing.T) {
		addFault(t, e, sim.Fault{Model: "primary", Status: 503, Probability: 1})
		status, _, b := e.Post(t, key, "/v1/chat/completions", `{"model":"sim-fallback","messages":[{"role":"user","content":"x"}]}`)
		if status != 200 {
			t.Fatalf("status = %d, want 200 from the fallback: %s", status, b)
		}
		st := e.Sim.Stats()
		if st.Requests["primary"] != 1 || st.Completed["backup"] != 1 {
			t.Fatalf("stats = %+v, want one attempt at primary and one completed at backup", st)
		}
	})
	// Nothing failed was metered as a success.
	e.Server.Meter().Flush(context.Background())
	recs, err := e.Store.ListUsage(context.Background(), billing.UsageFilter{Tenant: "default", KeyID: id}, 100)
	if err != nil {
		t.Fatal(err)
	}
	var ok, failed int
	for _, r := range recs {
		if r.Status == billing.StatusOK {
			ok++
		} else {
			failed++
		}
	}
	// Successes: the fallback's second attempt only.
	if ok != 1 {
		t.Errorf("ok records = %d, want 1 (the fallback); records: %+v", ok, recs)
	}
	if failed < 6 {
		t.Errorf("failed records = %d, want every failed attempt recorded", failed)
	}
}

func TestBudgetExceeded(t *testing.T) {
	e := servertest.Start(t, servertest.Options{})
	budget := 0.00001 // one request of ~30 tokens at $0.40/$1.60 per M costs ~$0.00004
	_, key := e.CreateKey(t, server.KeyRequest{Name: "b", BudgetUSD: &budget})
	if status, _, b := e.Post(t, key, "/v1/chat/completions", hello); status != 200 {
		t.Fatalf("first request: %d %s", status, b)
	}
	status, _, b := e.Post(t, key, "/v1/chat/completions", hello)
	if status != 429 {
		t.Fatalf("status = %d, want 429: %s", status, b)
	}
	if eb := decodeError(t, b); str(eb.Error.Code) != "budget_exceeded" {
		t.Fatalf("code = %q, want budget_exceeded", str(eb.Error.Code))
	}
	if got := e.Sim.Stats().Requests["gpt-4.1-mini"]; got != 1 {
		t.Fatalf("upstream requests = %d, want 1", got)
	}
}

func TestModelsListedPerKey(t *testing.T) {
	e := servertest.Start(t, servertest.Options{})
	_, key := e.CreateKey(t, server.KeyRequest{Name: "limited", Models: []string{"sim-other", "sim-embed"}})
	req, _ := http.NewRequest(http.MethodGet, e.URL+"/v1/models", nil)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var list struct {
		Data []struct{ ID string } `json:"data"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&list)
	var ids []string
	for _, m := range list.Data {
		ids = append(ids, m.ID)
	}
	if strings.Join(ids, ",") != "sim-other,sim-embed" {
		t.Fatalf("models = %v, want [sim-other sim-embed]", ids)
	}
	req, _ = http.NewRequest(http.MethodGet, e.URL+"/v1/models/sim-openai", nil)
	req.Header.Set("Authorization", "Bearer "+key)
	resp2, _ := http.DefaultClient.Do(req)
	resp2.Body.Close()
	if resp2.StatusCode != 404 {
		t.Fatalf("GET a model the key may not use: %d, want 404", resp2.StatusCode)
	}
}

func TestAdminAPI(t *testing.T) {
	e := servertest.Start(t, servertest.Options{})
	req, _ := http.NewRequest(http.MethodGet, e.URL+"/admin/v1/keys", nil)
	req.Header.Set("Authorization", "Bearer wrong")
	resp, _ := http.DefaultClient.Do(req)
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Fatalf("wrong admin key: %d, want 401", resp.StatusCode)
	}
	if st := e.Admin(t, http.MethodPost, "/admin/v1/keys", map[string]any{"name": "x", "models": []string{"nope"}}, nil); st != 400 {
		t.Fatalf("unknown model alias: %d, want 400", st)
	}
	if st := e.Admin(t, http.MethodPost, "/admin/v1/keys", map[string]any{"name": "x", "bogus": 1}, nil); st != 400 {
		t.Fatalf("unknown field: %d, want 400", st)
	}
	id, key := e.CreateKey(t, server.KeyRequest{Name: "shown-once"})
	var list struct {
		Data []map[string]any `json:"data"`
	}
	e.Admin(t, http.MethodGet, "/admin/v1/keys", nil, &list)
	if len(list.Data) != 1 || list.Data[0]["id"] != id || list.Data[0]["key"] != nil {
		t.Fatalf("list = %v, want the key without its secret", list.Data)
	}
	if strings.Contains(fmt.Sprint(list.Data), key) {
		t.Fatal("the secret appears in the key list")
	}
	if st := e.Admin(t, http.MethodGet, "/admin/v1/keys/"+id+"?tenant=other", nil, nil); st != 404 {
		t.Fatalf("another tenant's key: %d, want 404", st)
	}
	if st := e.Admin(t, http.MethodDelete, "/admin/v1/keys/key_missing", nil, nil); st != 404 {
		t.Fatalf("revoke unknown: %d, want 404", st)
	}
	if st := e.Admin(t, http.MethodGet, "/admin/v1/usage?from=yesterday", nil, nil); st != 400 {
		t.Fatalf("bad from: %d, want 400", st)
	}
}

// TestKeyRateLimits: a key's rpm and tpm are enforced (per replica) with
// OpenAI's 429 and a Retry-After.
func TestKeyRateLimits(t *testing.T) {
	e := servertest.Start(t, servertest.Options{})
	_, rpmKey := e.CreateKey(t, server.KeyRequest{Name: "rpm", RPM: 2})
	for i := range 2 {
		if status, _, b := e.Post(t, rpmKey, "/v1/chat/completions", hello); status != 200 {
			t.Fatalf("request %d within rpm: %d %s", i, status, b)
		}
	}
	status, h, b := e.Post(t, rpmKey, "/v1/chat/completions", hello)
	if status != 429 || h.Get("Retry-After") == "" {
		t.Fatalf("third request at rpm 2: status %d retry-after %q, want 429 with Retry-After: %s", status, h.Get("Retry-After"), b)
	}
	// tpm 10: the first request (≈30 tokens) is admitted and runs the
	// allowance into debt; the next is refused.
	_, tpmKey := e.CreateKey(t, server.KeyRequest{Name: "tpm", TPM: 10})
	if status, _, b := e.Post(t, tpmKey, "/v1/chat/completions", hello); status != 200 {
		t.Fatalf("first request under tpm: %d %s", status, b)
	}
	if status, _, b := e.Post(t, tpmKey, "/v1/chat/completions", hello); status != 429 {
		t.Fatalf("second request over tpm: %d, want 429: %s", status, b)
	}
	upstream := e.Sim.Stats().Requests["gpt-4.1-mini"]
	if upstream != 3 {
		t.Fatalf("upstream saw %d requests, want 3 (the refused ones never left)", upstream)
	}
}
