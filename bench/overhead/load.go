package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/causeway-ai/causeway/bench/internal/benchkit"
)

// target is one thing the load is sent to: the simulator directly, the
// floor proxy, or a gateway.
type target struct {
	name   string
	base   string // http://127.0.0.1:port
	model  string // model name in the request body
	header http.Header
	proc   *benchkit.Child // the process under test; nil for direct-to-sim
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
	host      benchkit.HostCPU
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
	return float64(r.cpuTicks) * 1000 / benchkit.ClkTck / float64(r.sent)
}

// perReq converts ticks to ms per request sent.
func (r runResult) perReq(ticks int64) float64 {
	if r.sent == 0 {
		return 0
	}
	return float64(ticks) * 1000 / benchkit.ClkTck / float64(r.sent)
}

// settle is how long after a run its CPU window stays open, so that work
// the run caused but that happens later (the gateway's usage flush, every
// 200 ms by default) is charged to it.
const settle = 300 * time.Millisecond

// attack runs one load run. rate 0 means closed loop: workers concurrent
// workers sending as fast as answers come back.
func attack(ctx context.Context, t *target, sim *benchkit.Child, body []byte, stream bool, rate int, workers uint64, dur time.Duration) runResult {
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
		cpu0, cpuErr = benchkit.CPUTicks(t.proc.Pid())
	}
	sim0, simErr := benchkit.CPUTicks(sim.Pid())
	self0, selfErr := benchkit.CPUTicks(os.Getpid())
	host0, hostErr := benchkit.ReadHostCPU()
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
		if cpu1, err := benchkit.CPUTicks(t.proc.Pid()); err == nil {
			res.cpuTicks, res.hasCPU = cpu1-cpu0, true
		}
	}
	if simErr == nil {
		if sim1, err := benchkit.CPUTicks(sim.Pid()); err == nil {
			res.simTicks = sim1 - sim0
		}
	}
	if selfErr == nil {
		if self1, err := benchkit.CPUTicks(os.Getpid()); err == nil {
			res.selfTicks = self1 - self0
		}
	}
	if hostErr == nil {
		if host1, err := benchkit.ReadHostCPU(); err == nil {
			res.host = host1.Sub(host0)
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
		r.p50 = benchkit.Quantile(r.lat, 0.50)
		r.p99 = benchkit.Quantile(r.lat, 0.99)
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
	r.host = r.host.Add(o.host)
	r.window += o.window
	for k, v := range o.errs {
		r.errs[k] += v
	}
	r.lat = append(r.lat, o.lat...)
	r.finish()
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
	pid := t.proc.Pid()

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
		kb, err := benchkit.RSSKB(pid)
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
func sortedErrs(m map[string]int) []string { return benchkit.SortedErrs(m, nil) }
