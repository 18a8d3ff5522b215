package main

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/causeway-ai/causeway/bench/internal/benchkit"
)

// sample is one successful request: when it was sent (from the start of
// the run) and how long it took.
type sample struct {
	at  time.Duration
	lat time.Duration
}

// runResult is one measured run.
type runResult struct {
	sent    int
	ok      int
	samples []sample        // successful requests
	lat     []time.Duration // of successful requests, sorted
	// errors by message, and when the first and last of them were sent
	errs               map[string]int
	firstErr, lastErr  time.Duration
	errLatMin          time.Duration // latency of the fastest and slowest failed request
	errLatMax          time.Duration
	cpuTicks           int64 // the gateway, during the run
	hasCPU             bool
	host               benchkit.HostCPU // the whole machine, during the run
	selfTicks          int64            // this process (the load generator), during the run
	selfCPU            bool
	sentEarly, okEarly int // requests sent in the first second
}

func (r runResult) successRatio() float64 {
	if r.sent == 0 {
		return 0
	}
	return float64(r.ok) / float64(r.sent)
}

func (r runResult) q(q float64) time.Duration { return benchkit.Quantile(r.lat, q) }

func (r runResult) max() time.Duration {
	if len(r.lat) == 0 {
		return 0
	}
	return r.lat[len(r.lat)-1]
}

// cpuMsPerReq is the gateway's CPU time per request sent.
func (r runResult) cpuMsPerReq() float64 {
	if !r.hasCPU || r.sent == 0 {
		return -1
	}
	return float64(r.cpuTicks) * 1000 / benchkit.ClkTck / float64(r.sent)
}

// window returns the sorted latencies of the successful requests sent in
// [from, to) of the run.
func (r runResult) window(from, to time.Duration) []time.Duration {
	var out []time.Duration
	for _, s := range r.samples {
		if s.at >= from && s.at < to {
			out = append(out, s.lat)
		}
	}
	slices.Sort(out)
	return out
}

// attack runs one open-loop run at rate req/s for dur against the gateway
// at base. pid is the gateway's, for its CPU time (0: none).
func attack(ctx context.Context, client *http.Client, base string, header http.Header, body []byte, stream bool, rate int, dur time.Duration, pid int) runResult {
	atk := vegeta.NewAttacker(vegeta.Client(client), vegeta.Redirects(vegeta.NoFollow), vegeta.Workers(16))
	tgt := vegeta.Target{Method: http.MethodPost, URL: base + "/v1/chat/completions", Body: body, Header: header}
	pacer := vegeta.Rate{Freq: rate, Per: time.Second}

	res := runResult{errs: map[string]int{}, firstErr: -1}
	var cpu0 int64
	var cpuErr error = errNoPID
	if pid > 0 {
		cpu0, cpuErr = benchkit.CPUTicks(pid)
	}
	host0, hostErr := benchkit.ReadHostCPU()
	self0, selfErr := benchkit.CPUTicks(os.Getpid())
	stop := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			atk.Stop()
		case <-stop:
		}
	}()
	done := []byte("data: [DONE]")
	start := time.Now()
	for r := range atk.Attack(vegeta.NewStaticTargeter(tgt), pacer, dur, "") {
		res.sent++
		at := r.Timestamp.Sub(start)
		early := at < time.Second
		if early {
			res.sentEarly++
		}
		msg := ""
		switch {
		case r.Error != "" && r.Code == 0:
			msg = r.Error
		case r.Code != http.StatusOK:
			msg = "status " + strconv.Itoa(int(r.Code)) + ": " + oneLine(r.Body, 300)
		case stream && !bytes.Contains(r.Body, done):
			msg = "stream without [DONE], ends: " + oneLine(tail(r.Body, 300), 300)
		case r.Error != "":
			msg = r.Error
		}
		if msg != "" {
			res.errs[msg]++
			if res.firstErr < 0 || at < res.firstErr {
				res.firstErr = at
			}
			res.lastErr = max(res.lastErr, at)
			if res.errLatMin == 0 || r.Latency < res.errLatMin {
				res.errLatMin = r.Latency
			}
			res.errLatMax = max(res.errLatMax, r.Latency)
			continue
		}
		res.ok++
		if early {
			res.okEarly++
		}
		res.samples = append(res.samples, sample{at: at, lat: r.Latency})
		res.lat = append(res.lat, r.Latency)
	}
	close(stop)
	if cpuErr == nil {
		if cpu1, err := benchkit.CPUTicks(pid); err == nil {
			res.cpuTicks, res.hasCPU = cpu1-cpu0, true
		}
	}
	if hostErr == nil {
		if host1, err := benchkit.ReadHostCPU(); err == nil {
			res.host = host1.Sub(host0)
		}
	}
	if selfErr == nil {
		if self1, err := benchkit.CPUTicks(os.Getpid()); err == nil {
			res.selfTicks, res.selfCPU = self1-self0, true
		}
	}
	slices.Sort(res.lat)
	return res
}

var errNoPID = errors.New("no pid")

func oneLine(b []byte, n int) string {
	s := strings.Join(strings.Fields(string(b)), " ")
	if len(s) > n {
		s = s[:n] + "…"
	}
	return s
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// sortedErrs lists errors by count, most frequent first, each message in
// backticks.
func sortedErrs(m map[string]int) []string {
	return benchkit.SortedErrs(m, func(k string) string { return "`" + strings.ReplaceAll(k, "`", "'") + "`" })
}
