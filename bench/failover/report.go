package main

import (
	"fmt"
	"runtime"
	"strings"
	"time"

	"github.com/causeway-ai/causeway/bench/internal/benchkit"
)

func ratio(a, b time.Duration) string {
	if a <= 0 || b <= 0 {
		return "—"
	}
	return fmt.Sprintf("%.2f×", float64(a)/float64(b))
}

func (b *bench) render() string {
	o := b.o
	var w strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&w, format, args...) }

	p("# Causeway failover: latency while one of two targets fails\n\n")
	p("```\n%s\n```\n\n", benchkit.CommandLine("failover", o.args))
	p("- date: %s; took %s; load average at start %s, at end %s\n", b.started.Format(time.RFC3339), time.Since(b.started).Round(time.Second), b.loadStart, benchkit.LoadAvg())
	model := benchkit.CPUModel()
	if model != "" {
		model = " (" + model + ")"
	}
	p("- nproc: %s%s; %s %s/%s; causeway %s\n", benchkit.Nproc(), model, runtime.Version(), runtime.GOOS, runtime.GOARCH, benchkit.Revision(b.root))
	p("- alias `%s` of `examples/routing.yaml`: priority strategy, target 1 upstream model `primary` (provider sim-us), "+
		"target 2 `backup` (sim-eu), both on one `causeway sim --ttft 0 --itl 0`; retry max_attempts 3 (backoff 100ms, "+
		"max_retry_after 10s); ejection after 5 consecutive failures for 10s, doubling.\n", alias)
	p("- **primary-stall** runs the gateway on a copy of `examples/routing.yaml` with `first_token: %s` instead of `10s` "+
		"(the simulator stalls %d ms before the first byte; with 10s the stall would never be detected). Every other scenario uses the file as it is.\n",
		o.stallFirstToken, o.stallMS)
	p("- each row is a fresh `causeway serve` process (fresh health state; the SQLite store and the key are kept): "+
		"%s healthy open-loop warm-up (not measured), then the fault is injected with `POST /sim/faults` and the run starts at once, "+
		"so the failures before the ejection and the probes after it are counted; the fault is removed after the run.\n", o.warmup)
	p("- load: vegeta open loop, %d req/s for %s per row, key with no budget; one user message, `max_tokens` 16; streaming adds "+
		"`stream: true` with `include_usage` and succeeds only if the body ends with `data: [DONE]`. "+
		"Latency is from sending until the whole body is read, for successful requests. All traffic on 127.0.0.1; "+
		"load generator, simulator and gateway share the %s cores.\n", o.rate, o.duration, benchkit.Nproc())
	p("- upstream primary / backup: requests the simulator received for each upstream model during the run (`GET /sim/stats` delta), " +
		"probes included; attempts/req is their sum over client requests sent.\n\n")

	for _, m := range modes {
		b.renderMode(&w, m)
	}
	b.renderVerdict(&w)
	return w.String()
}

func (b *bench) renderMode(w *strings.Builder, m benchkit.Mode) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	title := "Non-streaming"
	if m.Stream {
		title = "Streaming (`stream: true`, `include_usage`)"
	}
	var base *outcome
	if r, ok := b.results["healthy"]; ok {
		base = r[m.Name]
	}
	p("## %s\n\n", title)
	p("| scenario | requests | ok | p50 | p90 | p99 | max | p50 ×healthy | p99 ×healthy | upstream primary / backup | attempts/req | primary after run | gateway CPU ms/req |\n")
	p("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|--:|\n")
	var notes []string
	for _, s := range scenarios {
		out := b.get(s.name, m.Name)
		if out == nil {
			continue
		}
		r := out.res
		r50, r99 := "—", "—"
		if base != nil {
			r50, r99 = ratio(r.q(0.5), base.res.q(0.5)), ratio(r.q(0.99), base.res.q(0.99))
		}
		cpu := "—"
		if v := r.cpuMsPerReq(); v >= 0 {
			cpu = fmt.Sprintf("%.3f", v)
		}
		p("| %s | %d | %.2f%% | %s | %s | %s | %s | %s | %s | %d / %d | %.3f | %s, %d ejections | %s |\n",
			s.name, r.sent, 100*r.successRatio(), benchkit.MS(r.q(0.5)), benchkit.MS(r.q(0.9)), benchkit.MS(r.q(0.99)), benchkit.MS(r.max()), r50, r99,
			out.primary, out.backup, perReq(out.primary+out.backup, r.sent), out.primaryState, out.primaryEjections, cpu)
		if achieved := float64(r.sent) / b.o.duration.Seconds(); achieved < 0.95*float64(b.o.rate) {
			notes = append(notes, fmt.Sprintf("%s: the open loop sent only %.0f req/s of the %d asked (load generator behind)", s.name, achieved, b.o.rate))
		}
		if e := sortedErrs(r.errs); len(e) > 0 {
			notes = append(notes, fmt.Sprintf("**%s: %d client errors**, sent between %.3fs and %.3fs into the run, answered in %s to %s: %s",
				s.name, r.sent-r.ok, r.firstErr.Seconds(), r.lastErr.Seconds(), benchkit.MS(r.errLatMin), benchkit.MS(r.errLatMax), strings.Join(first(e, 8), "; ")))
		}
		if out.warmupN > 0 && out.warmupOK != out.warmupN {
			notes = append(notes, fmt.Sprintf("%s: healthy warm-up had %d of %d requests fail", s.name, out.warmupN-out.warmupOK, out.warmupN))
		}
		if !strings.HasPrefix(out.gatewayExit, "exited cleanly") {
			notes = append(notes, fmt.Sprintf("%s: gateway on SIGTERM %s", s.name, out.gatewayExit))
		}
	}
	p("\n")
	if len(notes) > 0 {
		for _, n := range notes {
			p("- %s\n", n)
		}
		p("\n")
	}

	p("Split by when the request was sent: the first second after the fault was injected (before and around the ejection) and the rest of the run. " +
		"Machine busy is the whole machine's CPU (/proc/stat) during the run: near 100%% means other processes were competing with the benchmark and the tail is noise.\n\n")
	p("| scenario | first 1s: sent | ok | p50 | p99 | max | after 1s: sent | ok | p50 | p99 | max | machine busy | steal |\n")
	p("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, s := range scenarios {
		out := b.get(s.name, m.Name)
		if out == nil {
			continue
		}
		r := out.res
		early, late := r.window(0, time.Second), r.window(time.Second, 1<<62)
		busy, steal := "—", "—"
		if v := r.host.BusyPct(); v >= 0 {
			busy = fmt.Sprintf("%.0f%%", v)
			steal = fmt.Sprintf("%.1f%%", 100*float64(r.host.Steal)/float64(r.host.Total))
		}
		p("| %s | %d | %d | %s | %s | %s | %d | %d | %s | %s | %s | %s | %s |\n", s.name,
			r.sentEarly, r.okEarly, benchkit.MS(benchkit.Quantile(early, 0.5)), benchkit.MS(benchkit.Quantile(early, 0.99)), benchkit.MS(benchkit.Quantile(early, 1)),
			r.sent-r.sentEarly, r.ok-r.okEarly, benchkit.MS(benchkit.Quantile(late, 0.5)), benchkit.MS(benchkit.Quantile(late, 0.99)), benchkit.MS(benchkit.Quantile(late, 1)), busy, steal)
	}
	p("\n")

	step := time.Second
	if b.o.duration > 15*time.Second {
		step = (b.o.duration / 10).Round(time.Second)
	}
	n := int((b.o.duration + step - 1) / step)
	p("Timeline: p50 / p99 in ms (and successful requests) of the requests sent in each %s of the run.\n\n", step)
	p("| scenario |")
	for i := range n {
		p(" %s–%s |", time.Duration(i)*step, time.Duration(i+1)*step)
	}
	p("\n|---|%s\n", strings.Repeat("--:|", n))
	for _, s := range scenarios {
		out := b.get(s.name, m.Name)
		if out == nil {
			continue
		}
		p("| %s |", s.name)
		for i := range n {
			win := out.res.window(time.Duration(i)*step, time.Duration(i+1)*step)
			if len(win) == 0 {
				p(" — (0) |")
				continue
			}
			p(" %s / %s (%d) |", msShort(benchkit.Quantile(win, 0.5)), msShort(benchkit.Quantile(win, 0.99)), len(win))
		}
		p("\n")
	}
	p("\n")
}

func msShort(d time.Duration) string {
	v := float64(d) / float64(time.Millisecond)
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.2f", v)
}

func (b *bench) get(s, m string) *outcome {
	if r, ok := b.results[s]; ok {
		return r[m]
	}
	return nil
}

// renderVerdict checks the 503 fault test figures on the
// benchmark's traffic.
func (b *bench) renderVerdict(w *strings.Builder) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	if _, ok := b.results["primary-503"]; !ok {
		return
	}
	mark := func(ok bool) string {
		if ok {
			return "PASS"
		}
		return "**MISS**"
	}
	p("## Issue #4, primary answering 503\n\n")
	for _, m := range modes {
		out := b.get("primary-503", m.Name)
		if out == nil {
			continue
		}
		r := out.res
		a := perReq(out.primary+out.backup, r.sent)
		p("- %s: client errors %d of %d %s; upstream attempts %.3f × client requests (≤ 1.2) %s\n",
			m.Name, r.sent-r.ok, r.sent, mark(r.ok == r.sent), a, mark(a <= 1.2))
	}
	p("\n")
}
