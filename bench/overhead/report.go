package main

import (
	"fmt"
	"runtime"
	"strings"
	"time"

	"github.com/causeway-ai/causeway/bench/internal/benchkit"
)

func msDelta(d time.Duration) string {
	return fmt.Sprintf("%+.2f ms", float64(d)/float64(time.Millisecond))
}

func mib(kb int64) string {
	if kb <= 0 {
		return "—"
	}
	return fmt.Sprintf("%.1f MiB", float64(kb)/1024)
}

func cpuStr(r runResult) string {
	if v := r.cpuMsPerReq(); v >= 0 {
		return fmt.Sprintf("%.3f", v)
	}
	return "—"
}

func ratio(a, b float64) string {
	if a < 0 || b <= 0 {
		return "—"
	}
	return fmt.Sprintf("%.2f×", a/b)
}

func (b *bench) target(name string) *target {
	for _, t := range b.targets {
		if t.name == name {
			return t
		}
	}
	return nil
}

func (b *bench) render() string {
	o := b.o
	var w strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&w, format, args...) }

	p("# Causeway gateway overhead\n\n")
	p("```\n%s\n```\n\n", benchkit.CommandLine("overhead", o.args))
	p("- date: %s; took %s\n", b.started.Format(time.RFC3339), time.Since(b.started).Round(time.Second))
	model := benchkit.CPUModel()
	if model != "" {
		model = " (" + model + ")"
	}
	p("- nproc: %s%s; %s %s/%s; causeway %s\n", benchkit.Nproc(), model, runtime.Version(), runtime.GOOS, runtime.GOARCH, benchkit.Revision(b.root))
	p("- simulator: `causeway sim --ttft 0 --itl 0`; floor: bare `httputil.ReverseProxy` (no parsing, auth or metering); "+
		"gateway: `causeway serve`, virtual key with a budget, metering on, access log on (info level, to a file), "+
		"usage flushed every 200 ms (default). Each a separate process; load generator (vegeta v12.13.0, in-process) "+
		"and all of them share the %s cores; all traffic on 127.0.0.1.\n", benchkit.Nproc())
	p("- request: one user message, `max_tokens` 16 (16 output tokens); streaming adds `stream: true` with `include_usage`; " +
		"latency is until the whole body is read.\n")
	p("- open loop: %d req/s for %s; closed loop (peak): %d workers for %s; each cut into %d rounds that visit the targets in turn "+
		"(so that noise from the rest of the machine falls on all of them); %s closed-loop warm-up per target and mode (not measured).\n",
		o.rate, o.duration, o.workers, o.peakDuration, o.rounds, o.warmup)
	p("- CPU: utime+stime of the process under test from /proc over the run plus %s, divided by requests sent. "+
		"The PostgreSQL server's own CPU is not counted (SQLite's work happens inside the gateway).\n", settle)
	if b.pgNote != "" {
		p("- **%s**\n", b.pgNote)
	}
	p("\n")

	for _, m := range b.modes {
		b.renderMode(&w, m)
	}
	b.renderMemory(&w)
	b.renderUsage(&w)
	b.renderVerdict(&w)
	return w.String()
}

func (b *bench) renderMode(w *strings.Builder, m benchkit.Mode) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	title := "Non-streaming"
	if m.Stream {
		title = "Streaming (`stream: true`, `include_usage`)"
	}
	open, peak := b.open[m.Name], b.peak[m.Name]
	direct, hasDirect := open[tDirect]
	floorOpen, hasFloor := open[tFloor]
	floorPeak := peak[tFloor]

	p("## %s\n\n", title)
	p("| target | peak req/s | peak ×floor | p50 @%d/s | p99 @%d/s | max | added p50 vs direct | added p99 vs direct | CPU ms/req @%d/s | CPU ×floor | CPU ms/req @peak | CPU ×floor @peak | ok (open / peak) |\n",
		b.o.rate, b.o.rate, b.o.rate)
	p("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	var notes []string
	for _, t := range b.targets {
		r, ok := open[t.name]
		if !ok {
			continue
		}
		pk := peak[t.name]
		peakRatio, cpuRatio, cpuPeakRatio := "—", "—", "—"
		if hasFloor {
			peakRatio = ratio(pk.rps(), floorPeak.rps())
			cpuRatio = ratio(r.cpuMsPerReq(), floorOpen.cpuMsPerReq())
			cpuPeakRatio = ratio(pk.cpuMsPerReq(), floorPeak.cpuMsPerReq())
		}
		add50, add99 := "—", "—"
		if hasDirect && t.name != tDirect {
			add50, add99 = msDelta(r.p50-direct.p50), msDelta(r.p99-direct.p99)
		}
		p("| %s | %.0f | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %.2f%% / %.2f%% |\n",
			t.name, pk.rps(), peakRatio, benchkit.MS(r.p50), benchkit.MS(r.p99), benchkit.MS(r.max), add50, add99,
			cpuStr(r), cpuRatio, cpuStr(pk), cpuPeakRatio, 100*r.successRatio(), 100*pk.successRatio())
		if achieved := float64(r.sent) / b.o.duration.Seconds(); achieved < 0.95*float64(b.o.rate) {
			notes = append(notes, fmt.Sprintf("%s: the open loop sent only %.0f req/s of the %d asked (load generator behind)", t.name, achieved, b.o.rate))
		}
		if e := sortedErrs(r.errs); len(e) > 0 {
			notes = append(notes, fmt.Sprintf("%s open-loop errors: %s", t.name, strings.Join(first(e, 5), "; ")))
		}
		if e := sortedErrs(pk.errs); len(e) > 0 {
			notes = append(notes, fmt.Sprintf("%s closed-loop errors: %s", t.name, strings.Join(first(e, 5), "; ")))
		}
	}
	p("\n")
	p("Where the CPU went during the closed-loop run, in ms per request: the load generator, the simulator and the process under test " +
		"(from /proc/<pid>/stat), and the whole machine (/proc/stat; the difference is other processes — PostgreSQL's server for gateway-postgres — and the kernel). " +
		"If the machine is not busy near 100%%, the peak is bound by something other than CPU.\n\n")
	p("| target | peak req/s | load gen | simulator | proxy/gateway | sum | whole machine | machine busy | steal |\n")
	p("|---|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, t := range b.targets {
		pk, ok := peak[t.name]
		if !ok || pk.sent == 0 {
			continue
		}
		proc, procTicks := "—", int64(0)
		if pk.hasCPU {
			proc, procTicks = fmt.Sprintf("%.3f", pk.perReq(pk.cpuTicks)), pk.cpuTicks
		}
		busy, steal := "—", "—"
		if pk.host.Total > 0 {
			busy = fmt.Sprintf("%.0f%%", 100*float64(pk.host.Busy)/float64(pk.host.Total))
			steal = fmt.Sprintf("%.1f%%", 100*float64(pk.host.Steal)/float64(pk.host.Total))
		}
		p("| %s | %.0f | %.3f | %.3f | %s | %.3f | %.3f | %s | %s |\n", t.name, pk.rps(),
			pk.perReq(pk.selfTicks), pk.perReq(pk.simTicks), proc, pk.perReq(pk.selfTicks+pk.simTicks+procTicks),
			pk.perReq(pk.host.Busy), busy, steal)
	}
	p("\n")
	for _, n := range notes {
		p("- **%s**\n", n)
	}
	if len(notes) > 0 {
		p("\n")
	}
}

func first(s []string, n int) []string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

func (b *bench) renderMemory(w *strings.Builder) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	p("## Resident memory (VmRSS)\n\n")
	p("| process | at rest (after start) | after the runs | with %d open streams: peak | … when all were open | streams ok | held for |\n", b.o.streams)
	p("|---|--:|--:|--:|--:|--:|--:|\n")
	var notes []string
	for _, t := range b.targets {
		if t.proc == nil {
			continue
		}
		s := t.streams
		if !s.ran {
			p("| %s | %s | %s | — | — | — | — |\n", t.name, mib(t.rssRest), mib(t.rssAfter))
			continue
		}
		allOpen := "—"
		if s.allOpen {
			allOpen = mib(s.allOpenKB)
		}
		p("| %s | %s | %s | %s | %s | %d/%d | %.2fs |\n", t.name, mib(t.rssRest), mib(t.rssAfter), mib(s.peakKB), allOpen, s.ok, s.n, s.took.Seconds())
		if e := sortedErrs(s.errs); len(e) > 0 {
			notes = append(notes, fmt.Sprintf("- **%s stream errors: %s**\n", t.name, strings.Join(first(e, 5), "; ")))
		}
	}
	p("\n%s", strings.Join(notes, ""))
	p("Streams are held open by setting the simulator's inter-token latency to 50 ms (`PUT /sim/latency`) for the test; answers are 20–28 tokens.\n\n")
}

func (b *bench) renderUsage(w *strings.Builder) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	var started bool
	for _, t := range b.targets {
		if !t.gateway {
			continue
		}
		if !started {
			p("## Usage check\n\n")
			started = true
		}
		u := t.usage
		switch {
		case u == nil:
			p("- %s: not checked\n", t.name)
		case u.err != nil:
			p("- **%s: GET /admin/v1/usage failed: %v**\n", t.name, u.err)
		case u.metered == u.sent:
			p("- %s: %d requests metered = %d requests that succeeded (warm-up, runs and streams included) — match\n", t.name, u.metered, u.sent)
		default:
			p("- **%s: MISMATCH — %d requests metered, %d requests succeeded (difference %+d)**\n", t.name, u.metered, u.sent, u.metered-u.sent)
		}
		if t.exit != "" {
			p("- %s: %s\n", t.name, t.exit)
		}
	}
	if started {
		p("\n")
	}
}

// renderVerdict compares with the targets of issue #2 (SQLite store,
// non-streaming), and shows PostgreSQL the same way for information.
func (b *bench) renderVerdict(w *strings.Builder) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	const m = "non-streaming"
	open, peak := b.open[m], b.peak[m]
	direct, hasDirect := open[tDirect]
	floor, hasFloor := open[tFloor]
	if !hasDirect || !hasFloor {
		return
	}
	floorPeak := peak[tFloor]
	mark := func(ok bool) string {
		if ok {
			return "PASS"
		}
		return "**MISS**"
	}
	p("## Against the targets (issue #2: non-streaming, keys and metering on)\n\n")
	for _, name := range []string{tSQLite, tPostgres} {
		r, ok := open[name]
		if !ok {
			continue
		}
		pk := peak[name]
		label := name
		if name == tSQLite {
			label += " (the target store)"
		}
		p("%s:\n", label)
		cr, crPeak := r.cpuMsPerReq()/floor.cpuMsPerReq(), pk.cpuMsPerReq()/floorPeak.cpuMsPerReq()
		p("- CPU per request ≤ 2× the floor's: %.2f× at %d/s (%.3f vs %.3f ms) %s; %.2f× at peak (%.3f vs %.3f ms) %s\n",
			cr, b.o.rate, r.cpuMsPerReq(), floor.cpuMsPerReq(), mark(cr <= 2), crPeak, pk.cpuMsPerReq(), floorPeak.cpuMsPerReq(), mark(crPeak <= 2))
		g50, f50 := r.p50-direct.p50, floor.p50-direct.p50
		p("- added p50 at %d/s within 0.2 ms of the floor's: %s vs floor %s (difference %s) %s\n",
			b.o.rate, msDelta(g50), msDelta(f50), msDelta(g50-f50), mark(g50-f50 <= 200*time.Microsecond))
		g99 := r.p99 - direct.p99
		p("- added p99 at %d/s ≤ 2 ms: %s (floor %s) %s\n", b.o.rate, msDelta(g99), msDelta(floor.p99-direct.p99), mark(g99 <= 2*time.Millisecond))
		pr := pk.rps() / floorPeak.rps()
		p("- closed-loop peak ≥ 70%% of the floor's: %.0f vs %.0f req/s = %.0f%% %s\n\n", pk.rps(), floorPeak.rps(), 100*pr, mark(pr >= 0.7))
	}
}
