package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// target is one thing the load is sent to: the simulator directly, the
// floor proxy, or a gateway.
type target struct {
	name   string
	base   string // http://127.0.0.1:port
	model  string // model name in the request body
	header http.Header
	proc   *child // the process under test; nil for direct-to-sim
	client *http.Client

	// Gateways only.
	gateway  bool
	adminKey string
	keyID    string
	okSent   atomic.Int64 // successful requests sent, in every phase, for the usage check
	rssRest  int64
	rssAfter int64
	streams  streamResult
	usage    *usageCheck
	exit     string
}

// newClient returns the load generator's client for one target: its own
// keep-alive pool, kept across that target's runs so that warm-up warms
// the connections too.
func newClient() *http.Client {
	return &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			DialContext:         (&net.Dialer{Timeout: 2 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConnsPerHost: 10000,
			IdleConnTimeout:     90 * time.Second,
			DisableCompression:  true,
		},
	}
}

// mode is non-streaming or streaming.
type mode struct {
	name   string
	stream bool
}

func chatBody(model string, stream bool, maxTokens int) []byte {
	var b bytes.Buffer
	b.WriteString(`{"model":"` + model + `","messages":[{"role":"user","content":"Say something about gateways."}]`)
	if maxTokens > 0 {
		b.WriteString(`,"max_tokens":`)
		b.WriteString(strconv.Itoa(maxTokens))
	}
	if stream {
		b.WriteString(`,"stream":true,"stream_options":{"include_usage":true}`)
	}
	b.WriteString("}")
	return b.Bytes()
}

// runResult is one measured run against one target.
type runResult struct {
	sent      int
	ok        int
	wall      time.Duration   // first request sent to last answer read
	lat       []time.Duration // of successful requests
	p50, p99  time.Duration   // of successful requests
	max       time.Duration
	cpuTicks  int64 // process under test, during the run and a settle time after it
	simTicks  int64 // the simulator, same window
	selfTicks int64 // this process (the load generator), same window
	host      hostCPU
	window    time.Duration // the CPU window: the run plus settle
	errs      map[string]int
	hasCPU    bool
	attempted bool
}

func (r runResult) rps() float64 {
	if r.wall <= 0 {
		return 0
	}
	return float64(r.ok) / r.wall.Seconds()
}

func (r runResult) successRatio() float64 {
	if r.sent == 0 {
		return 0
	}
	return float64(r.ok) / float64(r.sent)
}

// cpuMsPerReq is the process under test's CPU time per request sent.
func (r runResult) cpuMsPerReq() float64 {
	if !r.hasCPU || r.sent == 0 {
		return -1
	}
	return float64(r.cpuTicks) * 1000 / clkTck / float64(r.sent)
}

// perReq converts ticks to ms per request sent.
func (r runResult) perReq(ticks int64) float64 {
	if r.sent == 0 {
		return 0
	}
	return float64(ticks) * 1000 / clkTck / float64(r.sent)
}

// settle is how long after a run its CPU window stays open, so that work
// the run caused but that happens later (the gateway's usage flush, every
// 200 ms by default) is charged to it.
const settle = 300 * time.Millisecond

// attack runs one load run. rate 0 means closed loop: workers concurrent
// workers sending as fast as answers come back.
func attack(ctx context.Context, t *target, sim *child, body []byte, stream bool, rate int, workers uint64, dur time.Duration) runResult {
	opts := []func(*vegeta.Attacker){vegeta.Client(t.client), vegeta.Redirects(vegeta.NoFollow)}
	var pacer vegeta.Pacer
	if rate > 0 {
		pacer = vegeta.Rate{Freq: rate, Per: time.Second}
		opts = append(opts, vegeta.Workers(16))
	} else {
		pacer = vegeta.Rate{Freq: 0, Per: time.Second} // as fast as possible
		opts = append(opts, vegeta.Workers(workers), vegeta.MaxWorkers(workers))
	}
	atk := vegeta.NewAttacker(opts...)
	tgt := vegeta.Target{Method: http.MethodPost, URL: t.base + "/v1/chat/completions", Body: body, Header: t.header}
	targeter := vegeta.NewStaticTargeter(tgt)

	res := runResult{errs: map[string]int{}, attempted: true}
	var cpu0, sim0 int64
	var cpuErr error
	if t.proc != nil {
		cpu0, cpuErr = cpuTicks(t.proc.pid())
	}
	sim0, simErr := cpuTicks(sim.pid())
	self0, selfErr := cpuTicks(os.Getpid())
	host0, hostErr := readHostCPU()
	windowStart := time.Now()

	stop := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			atk.Stop()
		case <-stop:
		}
	}()
	res.lat = make([]time.Duration, 0, 1024)
	var first time.Time
	var last time.Time
	done := []byte("data: [DONE]")
	for r := range atk.Attack(targeter, pacer, dur, "") {
		res.sent++
		if first.IsZero() || r.Timestamp.Before(first) {
			first = r.Timestamp
		}
		if end := r.Timestamp.Add(r.Latency); end.After(last) {
			last = end
		}
		switch {
		case r.Error != "":
			res.errs[r.Error]++
		case r.Code != http.StatusOK:
			res.errs["status "+strconv.Itoa(int(r.Code))]++
		case stream && !bytes.Contains(r.Body, done):
			res.errs["stream without [DONE]"]++
		default:
			res.ok++
			res.lat = append(res.lat, r.Latency)
		}
	}
	close(stop)
	res.wall = last.Sub(first)
	if t.gateway {
		t.okSent.Add(int64(res.ok))
	}

	select {
	case <-time.After(settle):
	case <-ctx.Done():
	}
	if t.proc != nil && cpuErr == nil {
		if cpu1, err := cpuTicks(t.proc.pid()); err == nil {
			res.cpuTicks, res.hasCPU = cpu1-cpu0, true
		}
	}
	if simErr == nil {
		if sim1, err := cpuTicks(sim.pid()); err == nil {
			res.simTicks = sim1 - sim0
		}
	}
	if selfErr == nil {
		if self1, err := cpuTicks(os.Getpid()); err == nil {
			res.selfTicks = self1 - self0
		}
	}
	if hostErr == nil {
		if host1, err := readHostCPU(); err == nil {
			res.host = host1.sub(host0)
		}
	}
	res.window = time.Since(windowStart)

	res.finish()
	return res
}

// finish computes the latency quantiles.
func (r *runResult) finish() {
	if len(r.lat) > 0 {
		slices.Sort(r.lat)
		r.p50 = quantile(r.lat, 0.50)
		r.p99 = quantile(r.lat, 0.99)
		r.max = r.lat[len(r.lat)-1]
	}
}

// merge adds the slice o, measured in another round, to r.
func (r *runResult) merge(o runResult) {
	if !r.attempted {
		r.errs = map[string]int{}
		r.attempted = true
		r.hasCPU = o.hasCPU
	}
	r.sent += o.sent
	r.ok += o.ok
	r.wall += o.wall
	r.cpuTicks += o.cpuTicks
	r.hasCPU = r.hasCPU && o.hasCPU
	r.simTicks += o.simTicks
	r.selfTicks += o.selfTicks
	r.host.busy += o.host.busy
	r.host.steal += o.host.steal
	r.host.total += o.host.total
	r.window += o.window
	for k, v := range o.errs {
		r.errs[k] += v
	}
	r.lat = append(r.lat, o.lat...)
	r.finish()
}

// quantile returns the q-quantile of sorted (nearest rank).
func quantile(sorted []time.Duration, q float64) time.Duration {
	i := int(q*float64(len(sorted))+0.5) - 1
	i = max(0, min(i, len(sorted)-1))
	return sorted[i]
}

// streamResult is the memory test: n streams held open at once.
type streamResult struct {
	n         int
	ok        int
	peakKB    int64 // highest VmRSS sampled while streams were open
	allOpenKB int64 // VmRSS when every stream had its response headers
	allOpen   bool
	took      time.Duration
	errs      map[string]int
	ran       bool
}

// holdStreams opens n streaming requests to t at once and samples the
// process under test's RSS until they have all ended. The simulator's
// inter-token latency must have been raised first so that they stay open.
func holdStreams(ctx context.Context, t *target, body []byte, n int) streamResult {
	res := streamResult{n: n, errs: map[string]int{}, ran: true}
	client := &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			MaxIdleConnsPerHost: n,
			DisableCompression:  true,
		},
	}
	defer client.CloseIdleConnections()
	pid := t.proc.pid()

	var mu sync.Mutex
	var opened sync.WaitGroup
	var finished sync.WaitGroup
	opened.Add(n)
	finished.Add(n)
	start := time.Now()
	for range n {
		go func() {
			defer finished.Done()
			openedOnce := sync.OnceFunc(opened.Done)
			defer openedOnce()
			fail := func(msg string) {
				mu.Lock()
				res.errs[msg]++
				mu.Unlock()
			}
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, t.base+"/v1/chat/completions", bytes.NewReader(body))
			for k, v := range t.header {
				req.Header[k] = v
			}
			resp, err := client.Do(req)
			openedOnce()
			if err != nil {
				fail(err.Error())
				return
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			switch {
			case err != nil:
				fail(err.Error())
			case resp.StatusCode != http.StatusOK:
				fail("status " + strconv.Itoa(resp.StatusCode))
			case !bytes.Contains(b, []byte("data: [DONE]")):
				fail("stream without [DONE]")
			default:
				mu.Lock()
				res.ok++
				mu.Unlock()
			}
		}()
	}
	allOpen := make(chan struct{})
	go func() { opened.Wait(); close(allOpen) }()
	allDone := make(chan struct{})
	go func() { finished.Wait(); close(allDone) }()

	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	sample := func() int64 {
		kb, err := rssKB(pid)
		if err == nil && kb > res.peakKB {
			res.peakKB = kb
		}
		return kb
	}
	for {
		select {
		case <-allOpen:
			res.allOpenKB = sample()
			res.allOpen = true
			allOpen = nil
		case <-tick.C:
			sample()
		case <-allDone:
			res.took = time.Since(start)
			if t.gateway {
				t.okSent.Add(int64(res.ok))
			}
			return res
		}
	}
}

// sortedErrs lists errors by count, most frequent first.
func sortedErrs(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if m[keys[i]] != m[keys[j]] {
			return m[keys[i]] > m[keys[j]]
		}
		return keys[i] < keys[j]
	})
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		out = append(out, strconv.Itoa(m[k])+"× "+k)
	}
	return out
}
