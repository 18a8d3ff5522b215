package server_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/causeway-ai/causeway/examples"
	"github.com/causeway-ai/causeway/internal/billing"
	"github.com/causeway-ai/causeway/internal/server"
	"github.com/causeway-ai/causeway/internal/server/servertest"
	"github.com/causeway-ai/causeway/internal/sim"
)

// routingConfig is examples/routing.yaml with the simulator's address and
// short ejections, so that a test can see a target come back.
func routingConfig(t *testing.T) string {
	yml := string(examples.Routing())
	yml = strings.ReplaceAll(yml, "${CAUSEWAY_SIM_URL}", "${SIM}")
	yml = strings.ReplaceAll(yml, "base_ejection: 10s", "base_ejection: 300ms")
	yml = strings.ReplaceAll(yml, "${CAUSEWAY_LISTEN:-127.0.0.1:8080}", "127.0.0.1:0")
	yml = strings.ReplaceAll(yml, "${CAUSEWAY_STORE:-./causeway-data/causeway.db}", `":memory:"`)
	return yml
}

func chat(t *testing.T, e *servertest.Env, key, model string, stream bool) (int, []byte) {
	t.Helper()
	status, _, b := e.Post(t, key, "/v1/chat/completions",
		fmt.Sprintf(`{"model":%q,"stream":%t,"messages":[{"role":"user","content":"route me"}]}`, model, stream))
	return status, b
}

func targetState(t *testing.T, e *servertest.Env, alias, upstream string) string {
	t.Helper()
	var out struct {
		Data []server.AliasView `json:"data"`
	}
	e.Admin(t, http.MethodGet, "/admin/v1/targets", nil, &out)
	for _, a := range out.Data {
		if a.Model != alias {
			continue
		}
		for _, tv := range a.Targets {
			if tv.UpstreamModel == upstream {
				return tv.State
			}
		}
	}
	t.Fatalf("no target %s in %s", upstream, alias)
	return ""
}

// TestFailingPrimaryIsAbsorbed: a primary answering 503 to everything costs
// the clients nothing, the upstream at most 1.2 attempts per request, is
// ejected after at most 5 failures, and comes back when healthy.
func TestFailingPrimaryIsAbsorbed(t *testing.T) {
	e := servertest.Start(t, servertest.Options{Config: routingConfig(t)})
	_, key := e.CreateKey(t, server.KeyRequest{Name: "ha"})
	e.Sim.AddFault(sim.Fault{Model: "primary", Status: 503})
	const n = 100
	for i := range n {
		if status, b := chat(t, e, key, "sim-ha", i%2 == 0); status != 200 {
			t.Fatalf("request %d: status %d: %s", i, status, b)
		}
	}
	st := e.Sim.Stats()
	attempts := st.Requests["primary"] + st.Requests["backup"]
	if attempts > n*12/10 {
		t.Errorf("upstream attempts = %d for %d requests, want ≤ %d", attempts, n, n*12/10)
	}
	if st.Completed["backup"] != n {
		t.Errorf("backup completed %d, want %d", st.Completed["backup"], n)
	}
	if got := targetState(t, e, "sim-ha", "primary"); got == "healthy" {
		t.Errorf("primary state = %s, want ejected or probing", got)
	}
	// Before the first ejection ended, the primary saw at most 5 requests.
	if st.Requests["primary"] > 5+n/10 {
		t.Errorf("primary saw %d requests, want ejection after ≤ 5 failures (plus probes)", st.Requests["primary"])
	}
	// Heal it: after the ejection a probe brings it back.
	e.Sim.ClearFaults()
	servertest.WaitFor(t, "the primary to be probed back in", func() bool {
		chat(t, e, key, "sim-ha", false)
		return targetState(t, e, "sim-ha", "primary") == "healthy"
	})
	before := e.Sim.Stats().Completed["primary"]
	for range 5 {
		chat(t, e, key, "sim-ha", false)
	}
	if got := e.Sim.Stats().Completed["primary"] - before; got != 5 {
		t.Errorf("after recovery the primary served %d of 5", got)
	}
}

// TestRetryAfterIsHonoured: a single-target alias retries a 429 no sooner
// than the upstream asked.
func TestRetryAfterIsHonoured(t *testing.T) {
	e := servertest.Start(t, servertest.Options{})
	_, key := e.CreateKey(t, server.KeyRequest{Name: "ra"})
	e.Sim.AddFault(sim.Fault{Model: "gpt-4.1-mini", Status: 429, RetryAfterS: 1, Count: 1})
	start := time.Now()
	status, b := chat(t, e, key, "sim-openai", false)
	if status != 200 {
		t.Fatalf("status %d: %s", status, b)
	}
	// A lower bound only: the retry must not come before Retry-After.
	if waited := time.Since(start); waited < time.Second {
		t.Errorf("retried after %v, before the upstream's Retry-After of 1s", waited)
	}
	if got := e.Sim.Stats().Requests["gpt-4.1-mini"]; got != 2 {
		t.Errorf("upstream requests = %d, want 2", got)
	}
}

// TestRateLimitFallsBackAtOnce: with a fallback, a 429 moves on to it
// instead of waiting.
func TestRateLimitFallsBackAtOnce(t *testing.T) {
	e := servertest.Start(t, servertest.Options{Config: routingConfig(t)})
	_, key := e.CreateKey(t, server.KeyRequest{Name: "rl"})
	e.Sim.AddFault(sim.Fault{Model: "primary", Status: 429, RetryAfterS: 60})
	if status, b := chat(t, e, key, "sim-ha", false); status != 200 {
		t.Fatalf("status %d: %s", status, b)
	}
	st := e.Sim.Stats()
	if st.Requests["primary"] != 1 || st.Completed["backup"] != 1 {
		t.Fatalf("stats %+v: want one 429 from primary and the answer from backup", st)
	}
}

// TestErrorAfterPreambleFailsOver: an upstream that dies right after its
// stream preamble is replaced by the fallback before any byte of it reaches
// the client, and both attempts are metered.
func TestErrorAfterPreambleFailsOver(t *testing.T) {
	e := servertest.Start(t, servertest.Options{Config: routingConfig(t)})
	id, key := e.CreateKey(t, server.KeyRequest{Name: "pre"})
	e.Sim.AddFault(sim.Fault{Model: "primary", CutAfterChunks: 1}) // the role chunk, then nothing
	const n = 3
	for range n {
		status, b := chat(t, e, key, "sim-ha", true)
		if status != 200 {
			t.Fatalf("status %d: %s", status, b)
		}
		evs := readSSE(t, b)
		if evs[len(evs)-1] != "[DONE]" {
			t.Fatalf("stream did not complete: %q", evs[len(evs)-1])
		}
		ids := map[string]bool{}
		for _, ev := range evs[:len(evs)-1] {
			var c struct{ ID string }
			_ = json.Unmarshal([]byte(ev), &c)
			ids[c.ID] = true
		}
		if len(ids) != 1 {
			t.Fatalf("chunks from %d attempts reached the client: %v", len(ids), ids)
		}
	}
	if st := e.Sim.Stats(); st.Completed["backup"] != n {
		t.Fatalf("backup completed %d, want %d", st.Completed["backup"], n)
	}
	e.Server.Meter().Flush(context.Background())
	recs, _ := e.Store.ListUsage(context.Background(), billing.UsageFilter{Tenant: "default", KeyID: id}, 100)
	var failed, ok int
	for _, r := range recs {
		switch {
		case r.Status == billing.StatusError && r.UpstreamModel == "primary":
			failed++
		case r.Status == billing.StatusOK && r.UpstreamModel == "backup" && r.Attempt == 2:
			ok++
		}
	}
	if failed != n || ok != n {
		t.Fatalf("records: %d failed primary attempts and %d ok backup attempts, want %d each: %+v", failed, ok, n, recs)
	}
}

// TestStallMidStreamEndsExplicitly: an upstream that goes quiet mid-content
// is caught by the idle timeout, and the client gets an error event and no
// [DONE].
func TestStallMidStreamEndsExplicitly(t *testing.T) {
	yml := strings.Replace(servertest.DefaultConfig, "timeouts: {first_token: 5s, idle: 5s}", "timeouts: {first_token: 5s, idle: 100ms}", 1)
	e := servertest.Start(t, servertest.Options{Config: yml, Sim: sim.Options{ITL: 2 * time.Second}})
	_, key := e.CreateKey(t, server.KeyRequest{Name: "stall"})
	status, b := chat(t, e, key, "sim-openai", true)
	if status != 200 {
		t.Fatalf("status %d: %s", status, b)
	}
	evs := readSSE(t, b)
	last := evs[len(evs)-1]
	if last == "[DONE]" {
		t.Fatal("a stalled stream ended with [DONE]")
	}
	if eb := decodeError(t, []byte(last)); !strings.Contains(eb.Error.Message, "idle") {
		t.Fatalf("error %q does not say the stream was idle", eb.Error.Message)
	}
}

// TestRegionRestrictedKeyNeverLeavesItsRegion: a key restricted to the
// primary's region gets a clear 503 when that target is down, never the
// out-of-region fallback's answer.
func TestRegionRestrictedKeyNeverLeavesItsRegion(t *testing.T) {
	e := servertest.Start(t, servertest.Options{Config: routingConfig(t)})
	_, key := e.CreateKey(t, server.KeyRequest{Name: "us-only", Regions: []string{"us-east-1"}})
	_, free := e.CreateKey(t, server.KeyRequest{Name: "anywhere"})
	e.Sim.AddFault(sim.Fault{Model: "primary", Status: 503})
	for range 8 { // past the ejection threshold too
		status, b := chat(t, e, key, "sim-ha", false)
		if status != 503 {
			t.Fatalf("status %d, want 503: %s", status, b)
		}
		if eb := decodeError(t, b); str(eb.Error.Code) != "no_target_in_region" {
			t.Fatalf("code %q, want no_target_in_region", str(eb.Error.Code))
		}
	}
	if got := e.Sim.Stats().Requests["backup"]; got != 0 {
		t.Fatalf("the out-of-region backup saw %d requests", got)
	}
	if status, _ := chat(t, e, free, "sim-ha", false); status != 200 {
		t.Fatalf("an unrestricted key got %d", status)
	}
	// x-causeway-region prefers without restricting.
	e.Sim.ClearFaults()
	req, _ := http.NewRequest(http.MethodPost, e.URL+"/v1/chat/completions", strings.NewReader(hello))
	req.Header.Set("Authorization", "Bearer "+free)
	req.Header.Set("X-Causeway-Region", "eu-west-1")
	before := e.Sim.Stats().Completed["backup"]
	req.Body.Close()
	req, _ = http.NewRequest(http.MethodPost, e.URL+"/v1/chat/completions", strings.NewReader(`{"model":"sim-ha","messages":[{"role":"user","content":"x"}]}`))
	req.Header.Set("Authorization", "Bearer "+free)
	req.Header.Set("X-Causeway-Region", "eu-west-1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := e.Sim.Stats().Completed["backup"] - before; resp.StatusCode != 200 || got != 1 {
		t.Fatalf("x-causeway-region eu-west-1: status %d, backup served %d; want the eu target", resp.StatusCode, got)
	}
}

// TestContextLengthFallsBackToLargerAlias: a context-length error moves
// the request to the alias's larger fallback.
func TestContextLengthFallsBackToLargerAlias(t *testing.T) {
	e := servertest.Start(t, servertest.Options{Config: routingConfig(t)})
	_, key := e.CreateKey(t, server.KeyRequest{Name: "ctx"})
	e.Sim.AddFault(sim.Fault{Model: "small-context", Status: 400, Message: "This model's maximum context length is 8192 tokens."})
	if status, b := chat(t, e, key, "sim-small", false); status != 200 {
		t.Fatalf("status %d: %s", status, b)
	}
	if st := e.Sim.Stats(); st.Requests["small-context"] != 1 || st.Completed["large-context"] != 1 {
		t.Fatalf("stats %+v: want one try at small, the answer from large", st)
	}
	// Other 400s are the client's problem: no fallback.
	e.Sim.ClearFaults()
	e.Sim.AddFault(sim.Fault{Model: "small-context", Status: 400, Message: "Invalid 'messages[0].content'."})
	if status, _ := chat(t, e, key, "sim-small", false); status != 400 {
		t.Fatalf("a plain 400 got %d, want 400 without fallback", status)
	}
}

// TestDisconnectsLeaveNoLeaks: 1,000 clients that hang up at random points
// leave no goroutine or upstream attempt behind.
func TestDisconnectsLeaveNoLeaks(t *testing.T) {
	if testing.Short() {
		t.Skip("long")
	}
	e := servertest.Start(t, servertest.Options{Sim: sim.Options{ITL: time.Millisecond}})
	_, key := e.CreateKey(t, server.KeyRequest{Name: "hangup"})
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	// Warm up, then take the baseline with no pooled connections.
	chat(t, e, key, "sim-openai", true)
	e.Server.Gateway().CloseIdle()
	http.DefaultClient.CloseIdleConnections()
	time.Sleep(50 * time.Millisecond)
	runtime.GC()
	base := runtime.NumGoroutine()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	for i := range 1000 {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, e.URL+"/v1/chat/completions",
				strings.NewReader(fmt.Sprintf(`{"model":"sim-openai","stream":%t,"messages":[{"role":"user","content":"hang up %d"}]}`, i%3 != 0, i)))
			req.Header.Set("Authorization", "Bearer "+key)
			go func() {
				time.Sleep(time.Duration(rand.IntN(30)) * time.Millisecond)
				cancel()
			}()
			resp, err := client.Do(req)
			if err != nil {
				return
			}
			br := bufio.NewReader(resp.Body)
			for {
				if _, err := br.ReadString('\n'); err != nil {
					break
				}
			}
			resp.Body.Close()
		}()
	}
	wg.Wait()
	client.CloseIdleConnections()
	e.Server.Gateway().CloseIdle()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := e.Server.Gateway().Wait(ctx); err != nil {
		t.Fatalf("upstream attempts still running: %v", err)
	}
	servertest.WaitFor(t, "goroutines back to baseline", func() bool {
		e.Server.Gateway().CloseIdle()
		runtime.GC()
		return runtime.NumGoroutine() <= base+5
	})
}

// TestReloadKeepsInflightAndHealth: a reload swaps the routing table while
// a stream is in flight; the stream finishes, the new alias works, and a
// surviving target keeps its health.
func TestReloadKeepsInflightAndHealth(t *testing.T) {
	e := servertest.Start(t, servertest.Options{Config: routingConfig(t), Sim: sim.Options{ITL: 20 * time.Millisecond}})
	_, key := e.CreateKey(t, server.KeyRequest{Name: "reload"})
	e.Sim.AddFault(sim.Fault{Model: "primary", Status: 503, Count: 5})
	for range 5 {
		chat(t, e, key, "sim-ha", false)
	}
	if got := targetState(t, e, "sim-ha", "primary"); got == "healthy" {
		t.Fatalf("primary %s before reload, want ejected or probing", got)
	}
	done := make(chan int)
	go func() {
		status, b := chat(t, e, key, "sim-weighted", true)
		if evs := readSSE(t, b); status != 200 || evs[len(evs)-1] != "[DONE]" {
			status = -1
		}
		done <- status
	}()
	servertest.WaitFor(t, "the stream to start", func() bool { return e.Sim.Stats().Requests["gpt-4.1-mini"] > 0 })
	yml := routingConfig(t) + `
  - alias: sim-new
    targets:
      - {provider: sim-us, model: newer, price: {input_per_mtok: 1, output_per_mtok: 1}}
`
	yml = strings.ReplaceAll(yml, "${SIM}", e.SimURL)
	cfg, err := configParse(yml)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Server.Reload(cfg); err != nil {
		t.Fatalf("reload: %v", err)
	}
	if st := <-done; st != 200 {
		t.Fatal("the in-flight stream did not finish cleanly across the reload")
	}
	if status, b := chat(t, e, key, "sim-new", false); status != 200 {
		t.Fatalf("new alias after reload: %d %s", status, b)
	}
	if got := targetState(t, e, "sim-ha", "primary"); got == "healthy" {
		t.Fatalf("primary's ejection was forgotten by the reload")
	}
}

// TestResponseCache: an exact repeat of a deterministic request is served
// from memory, per tenant, unless bypassed; other requests are not cached.
func TestResponseCache(t *testing.T) {
	yml := routingConfig(t) + `
  - alias: sim-cached
    cache_ttl: 1m
    targets:
      - {provider: sim-us, model: cached-model, price: {input_per_mtok: 1, output_per_mtok: 1}}
`
	e := servertest.Start(t, servertest.Options{Config: yml})
	id, key := e.CreateKey(t, server.KeyRequest{Name: "cache"})
	var other server.KeyView
	if st := e.Admin(t, http.MethodPost, "/admin/v1/keys?tenant=acme", server.KeyRequest{Name: "other-tenant"}, &other); st != 201 {
		t.Fatalf("create key in tenant acme: %d", st)
	}
	det := `{"model":"sim-cached","temperature":0,"messages":[{"role":"user","content":"cache me"}]}`
	requests := func() int64 { return e.Sim.Stats().Requests["cached-model"] }
	content := func(b []byte) string {
		var r struct {
			Choices []struct{ Message struct{ Content string } } `json:"choices"`
		}
		_ = json.Unmarshal(b, &r)
		return r.Choices[0].Message.Content
	}
	_, _, first := e.Post(t, key, "/v1/chat/completions", det)
	status, _, second := e.Post(t, key, "/v1/chat/completions", det)
	if status != 200 || requests() != 1 || content(first) != content(second) || content(first) == "" {
		t.Fatalf("repeat: status %d, upstream requests %d, answers %q / %q; want one upstream request and the same answer", status, requests(), content(first), content(second))
	}
	// Streamed, the same request is a hit too.
	status, _, b := e.Post(t, key, "/v1/chat/completions", strings.Replace(det, `"temperature":0`, `"temperature":0,"stream":true`, 1))
	if evs := readSSE(t, b); status != 200 || requests() != 1 || evs[len(evs)-1] != "[DONE]" {
		t.Fatalf("streamed repeat: status %d, upstream requests %d", status, requests())
	}
	// Another tenant never sees this tenant's answers.
	e.Post(t, other.Key, "/v1/chat/completions", det)
	if requests() != 2 {
		t.Fatalf("another tenant was served from the cache (upstream requests %d, want 2)", requests())
	}
	// Bypass, and non-deterministic requests, go upstream.
	req, _ := http.NewRequest(http.MethodPost, e.URL+"/v1/chat/completions", strings.NewReader(det))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Cache-Control", "no-cache")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	e.Post(t, key, "/v1/chat/completions", `{"model":"sim-cached","temperature":0.7,"messages":[{"role":"user","content":"cache me"}]}`)
	e.Post(t, key, "/v1/chat/completions", `{"model":"sim-cached","temperature":0.7,"messages":[{"role":"user","content":"cache me"}]}`)
	if requests() != 5 {
		t.Fatalf("upstream requests = %d, want 5 (bypass and two sampled requests go upstream)", requests())
	}
	e.Server.Meter().Flush(context.Background())
	recs, _ := e.Store.ListUsage(context.Background(), billing.UsageFilter{Tenant: "default", KeyID: id}, 100)
	var hits int
	for _, r := range recs {
		if r.Provider == "cache" {
			hits++
			if r.CostNanoUSD != 0 || r.Status != billing.StatusOK {
				t.Errorf("cache hit record %+v: want ok at no cost", r)
			}
		}
	}
	if hits != 2 {
		t.Errorf("cache hit records = %d, want 2", hits)
	}
}

// TestHedgedRequest: when the first target is slower than the hedge delay
// a second attempt goes to the next target, the faster answer wins, and
// both attempts are metered.
func TestHedgedRequest(t *testing.T) {
	yml := routingConfig(t) + `
  - alias: sim-hedged
    hedge: true
    hedge_after: 50ms
    targets:
      - {provider: sim-us, model: slow, price: {input_per_mtok: 1, output_per_mtok: 1}}
      - {provider: sim-eu, model: fast, price: {input_per_mtok: 1, output_per_mtok: 1}}
`
	e := servertest.Start(t, servertest.Options{Config: yml})
	id, key := e.CreateKey(t, server.KeyRequest{Name: "hedge"})
	e.Sim.AddFault(sim.Fault{Model: "slow", StallMS: 5000})
	status, b := chat(t, e, key, "sim-hedged", true)
	if status != 200 {
		t.Fatalf("status %d: %s", status, b)
	}
	st := e.Sim.Stats()
	if st.Requests["slow"] != 1 || st.Completed["fast"] != 1 || st.Completed["slow"] != 0 {
		t.Fatalf("stats %+v: want one attempt at each, the fast one answering", st)
	}
	servertest.WaitFor(t, "both attempts metered", func() bool {
		e.Server.Meter().Flush(context.Background())
		recs, _ := e.Store.ListUsage(context.Background(), billing.UsageFilter{Tenant: "default", KeyID: id}, 10)
		return len(recs) == 2
	})
	// Without a slow first target, no hedge is sent.
	e.Sim.ClearFaults()
	chat(t, e, key, "sim-hedged", false)
	if st2 := e.Sim.Stats(); st2.Requests["fast"] != 1 {
		t.Fatalf("a fast first answer still hedged: %+v", st2)
	}
}

// TestTeamRegionsAndTargetLimits: a team restricted to a region is served
// only there; a target at its rpm cap is skipped for the next one, and a
// model whose targets are all capped answers 429.
func TestTeamRegionsAndTargetLimits(t *testing.T) {
	yml := routingConfig(t) + `
  - alias: sim-capped
    targets:
      - {provider: sim-us, model: capped-a, rpm: 60, price: {input_per_mtok: 1, output_per_mtok: 1}}
      - {provider: sim-eu, model: capped-b, price: {input_per_mtok: 1, output_per_mtok: 1}}
  - alias: sim-capped-only
    targets:
      - {provider: sim-us, model: capped-c, rpm: 60, price: {input_per_mtok: 1, output_per_mtok: 1}}
teams:
  - {name: eu-team, regions: [eu-west-1]}
`
	e := servertest.Start(t, servertest.Options{Config: yml})
	_, eu := e.CreateKey(t, server.KeyRequest{Name: "eu", Team: "eu-team"})
	_, key := e.CreateKey(t, server.KeyRequest{Name: "any"})
	for range 3 {
		if status, b := chat(t, e, eu, "sim-ha", false); status != 200 {
			t.Fatalf("eu team: %d %s", status, b)
		}
	}
	if st := e.Sim.Stats(); st.Requests["primary"] != 0 || st.Completed["backup"] != 3 {
		t.Fatalf("eu team was served outside its region: %+v", st)
	}
	// 60 rpm is one request a second with a burst of one.
	chat(t, e, key, "sim-capped", false)
	chat(t, e, key, "sim-capped", false)
	if st := e.Sim.Stats(); st.Requests["capped-a"] != 1 || st.Completed["capped-b"] != 1 {
		t.Fatalf("stats %+v: want the capped target once and the other once", st)
	}
	chat(t, e, key, "sim-capped-only", false)
	status, b := chat(t, e, key, "sim-capped-only", false)
	if status != 429 {
		t.Fatalf("every target capped: status %d, want 429: %s", status, b)
	}
	if eb := decodeError(t, b); str(eb.Error.Code) != "target_rate_limit" {
		t.Fatalf("code %q, want target_rate_limit", str(eb.Error.Code))
	}
}
