package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/causeway-ai/causeway/bench/internal/benchkit"
)

// The -protocols run: the same OpenAI-door streaming request through one
// gateway (examples/sim.yaml) to one provider alias of each upstream wire
// protocol, so that the cost of each provider codec shows as a ratio to
// sim-openai, where the gateway speaks OpenAI on both sides.

// protocolBaseline is the codec-free alias every other is compared with.
const protocolBaseline = "sim-openai"

// protocolAliases are the aliases of examples/sim.yaml measured by
// -protocols, in report order, with the upstream protocol each speaks.
var protocolAliases = []struct{ alias, upstream string }{
	{"sim-openai", "OpenAI chat completions, SSE (baseline)"},
	{"sim-azure", "Azure OpenAI deployments (`api-version`, `api-key`), SSE"},
	{"sim-anthropic", "Anthropic Messages, SSE"},
	{"sim-bedrock", "Bedrock ConverseStream, SigV4, binary event-stream"},
	{"sim-gemini", "Gemini `streamGenerateContent?alt=sse`"},
}

func protocolNames() []string {
	var out []string
	for _, a := range protocolAliases {
		out = append(out, a.alias)
	}
	return out
}

// Defaults of -rate, -duration and -peak-duration with -protocols, when
// they are not given: five aliases in about a minute and a half.
const (
	protocolsRate         = 300
	protocolsDuration     = 8 * time.Second
	protocolsPeakDuration = 6 * time.Second
)

// protocolRun is what runProtocols measured besides the runs themselves.
type protocolRun struct {
	gateway            *benchkit.Child
	simBefore          simStats
	simAfter           simStats
	total              usageTotals // GET /admin/v1/usage for every key
	totalErr           error
	exit               string
	perKey             map[string]usageTotals
	simStatsErr        error
	mismatches         []string
	simulatorArguments string
}

type simStats struct {
	Requests     map[string]int64 `json:"requests"`
	Completed    map[string]int64 `json:"completed"`
	OutputTokens map[string]int64 `json:"output_tokens"`
	InputTokens  map[string]int64 `json:"input_tokens"`
}

func (s simStats) sum(m func(simStats) map[string]int64) int64 {
	var n int64
	for _, v := range m(s) {
		n += v
	}
	return n
}

type usageTotals struct {
	Requests     int64   `json:"requests"`
	InputTokens  int64   `json:"input_tokens"`
	OutputTokens int64   `json:"output_tokens"`
	CostUSD      float64 `json:"cost_usd"`
}

func runProtocols(ctx context.Context, o *options) (err error) {
	m := benchkit.Mode{Name: "streaming", Stream: true}
	b := &bench{o: o, started: time.Now(), modes: []benchkit.Mode{m},
		open: map[string]map[string]runResult{m.Name: {}}, peak: map[string]map[string]runResult{m.Name: {}}}
	if b.root, err = benchkit.ModuleRoot("overhead"); err != nil {
		return err
	}
	if b.tmp, err = os.MkdirTemp("", "causeway-protocols-*"); err != nil {
		return err
	}
	if o.keep {
		benchkit.Logf("temporary directory (kept): %s", b.tmp)
	} else {
		defer os.RemoveAll(b.tmp)
	}
	defer benchkit.KillAll()

	if err := b.build(ctx); err != nil {
		return err
	}
	pr := &protocolRun{perKey: map[string]usageTotals{}, simulatorArguments: "--ttft 0 --itl 0 --api-key sim-key"}
	if b.sim, b.simURL, err = benchkit.StartSim(ctx, b.bin, filepath.Join(b.tmp, "sim.log"), "--api-key", "sim-key"); err != nil {
		return err
	}
	if err := b.startProtocolGateway(ctx, pr); err != nil {
		return err
	}
	if _, err := benchkit.Call(ctx, 10*time.Second, http.MethodGet, b.simURL+"/sim/stats", "", "", &pr.simBefore); err != nil {
		return fmt.Errorf("GET /sim/stats: %w", err)
	}
	benchkit.Logf("measuring %s through %d aliases: %d rounds", m.Name, len(b.targets), o.rounds)
	if err := b.measure(ctx, m); err != nil {
		return err
	}
	b.checkProtocolUsage(ctx, pr)
	clean, took := pr.gateway.Terminate(20 * time.Second)
	if clean {
		pr.exit = fmt.Sprintf("SIGTERM → exited cleanly in %.2fs", took.Seconds())
	} else {
		pr.exit = fmt.Sprintf("SIGTERM → did NOT exit cleanly (%v) after %.2fs", pr.gateway.Err, took.Seconds())
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	report := b.renderProtocols(pr)
	fmt.Print(report)
	if err := benchkit.WriteReport(b.root, o.outDir, "protocols", b.started, report); err != nil {
		return err
	}
	if len(pr.mismatches) > 0 {
		return fmt.Errorf("usage MISMATCH: %s", strings.Join(pr.mismatches, "; "))
	}
	return nil
}

// startProtocolGateway starts `causeway serve --config examples/sim.yaml`
// on a SQLite store and makes one virtual key per alias, so that the
// usage of each alias can be checked on its own.
func (b *bench) startProtocolGateway(ctx context.Context, pr *protocolRun) error {
	addr, err := benchkit.FreeAddr()
	if err != nil {
		return err
	}
	var rnd [16]byte
	_, _ = rand.Read(rnd[:])
	adminKey := "bench-admin-" + hex.EncodeToString(rnd[:])
	env := []string{
		"CAUSEWAY_SIM_URL=" + b.simURL,
		"CAUSEWAY_LISTEN=" + addr,
		"CAUSEWAY_STORE=" + filepath.Join(b.tmp, "causeway.db"),
		"CAUSEWAY_ADMIN_KEY=" + adminKey,
	}
	cfg := filepath.Join(b.root, "examples", "sim.yaml")
	c, err := benchkit.StartChild("gateway", filepath.Join(b.tmp, "gateway.log"), env, b.bin, "serve", "--config", cfg)
	if err != nil {
		return err
	}
	base := "http://" + addr
	if err := benchkit.WaitReady(ctx, c, base+"/readyz", 30*time.Second); err != nil {
		return err
	}
	pr.gateway = c
	benchkit.Logf("gateway on %s (pid %d), config %s", base, c.Pid(), cfg)
	for _, a := range protocolAliases {
		t := &target{name: a.alias, base: base, model: a.alias, proc: c, client: benchkit.NewClient(), gateway: true, adminKey: adminKey}
		var key struct {
			ID  string `json:"id"`
			Key string `json:"key"`
		}
		status, err := adminCall(ctx, t, http.MethodPost, "/admin/v1/keys", `{"name":"bench-`+a.alias+`","budget_usd":1000000}`, &key)
		if err != nil || status != http.StatusCreated || key.Key == "" {
			return fmt.Errorf("%s: create key: status %d, %v", a.alias, status, err)
		}
		t.keyID = key.ID
		t.header = http.Header{"Authorization": {"Bearer " + key.Key}, "Content-Type": {"application/json"}}
		b.targets = append(b.targets, t)
	}
	return nil
}

// checkProtocolUsage compares, per alias (key), the requests the gateway
// metered with those that succeeded, and the gateway's total tokens with
// the simulator's.
func (b *bench) checkProtocolUsage(ctx context.Context, pr *protocolRun) {
	mismatch := func(format string, args ...any) {
		msg := fmt.Sprintf(format, args...)
		pr.mismatches = append(pr.mismatches, msg)
		benchkit.Logf("!!! usage MISMATCH: %s", msg)
	}
	var okSum int64
	for _, t := range b.targets {
		var u usageTotals
		_, err := adminCall(ctx, t, http.MethodGet, "/admin/v1/usage?key_id="+t.keyID, "", &u)
		t.usage = &usageCheck{metered: u.Requests, sent: t.okSent.Load(), err: err}
		pr.perKey[t.name] = u
		okSum += t.okSent.Load()
		switch {
		case err != nil:
			mismatch("%s: GET /admin/v1/usage failed: %v", t.name, err)
		case u.Requests != t.okSent.Load():
			mismatch("%s: metered %d requests, %d succeeded", t.name, u.Requests, t.okSent.Load())
		}
	}
	_, pr.totalErr = adminCall(ctx, b.targets[0], http.MethodGet, "/admin/v1/usage", "", &pr.total)
	switch {
	case pr.totalErr != nil:
		mismatch("GET /admin/v1/usage (all keys) failed: %v", pr.totalErr)
	case pr.total.Requests != okSum:
		mismatch("all keys: metered %d requests, %d succeeded", pr.total.Requests, okSum)
	}
	_, pr.simStatsErr = benchkit.Call(ctx, 10*time.Second, http.MethodGet, b.simURL+"/sim/stats", "", "", &pr.simAfter)
	if pr.simStatsErr == nil && pr.totalErr == nil {
		in := pr.simAfter.sum(func(s simStats) map[string]int64 { return s.InputTokens }) - pr.simBefore.sum(func(s simStats) map[string]int64 { return s.InputTokens })
		out := pr.simAfter.sum(func(s simStats) map[string]int64 { return s.OutputTokens }) - pr.simBefore.sum(func(s simStats) map[string]int64 { return s.OutputTokens })
		if in != pr.total.InputTokens || out != pr.total.OutputTokens {
			mismatch("tokens: gateway metered %d in / %d out, the simulator reported %d in / %d out",
				pr.total.InputTokens, pr.total.OutputTokens, in, out)
		}
	}
}

func (b *bench) renderProtocols(pr *protocolRun) string {
	o := b.o
	var w strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&w, format, args...) }
	const mode = "streaming"
	open, peak := b.open[mode], b.peak[mode]
	base, basePeak := open[protocolBaseline], peak[protocolBaseline]

	p("# Causeway gateway overhead per upstream protocol (streaming)\n\n")
	p("```\n%s\n```\n\n", benchkit.CommandLine("overhead", o.args))
	p("- date: %s; took %s\n", b.started.Format(time.RFC3339), time.Since(b.started).Round(time.Second))
	model := benchkit.CPUModel()
	if model != "" {
		model = " (" + model + ")"
	}
	p("- nproc: %s%s; %s %s/%s; causeway %s\n", benchkit.Nproc(), model, runtime.Version(), runtime.GOOS, runtime.GOARCH, benchkit.Revision(b.root))
	p("- simulator: `causeway sim %s`; gateway: one `causeway serve --config examples/sim.yaml` (SQLite store, one virtual key "+
		"with a budget per alias, metering on, the file's logging defaults). Separate processes; the load generator (vegeta, in-process), "+
		"the simulator and the gateway share the %s cores; all traffic on 127.0.0.1.\n", pr.simulatorArguments, benchkit.Nproc())
	p("- request, the same for every alias: `POST /v1/chat/completions` (the OpenAI door), one user message, `max_tokens` 16, " +
		"`stream: true` with `include_usage`; success needs a 200 and `data: [DONE]`. Latency is until the whole body is read.\n")
	p("- open loop: %d req/s for %s per alias; closed loop (peak): %d workers for %s per alias; each cut into %d rounds that "+
		"visit the aliases in turn; %s closed-loop warm-up per alias (not measured).\n",
		o.rate, o.duration, o.workers, o.peakDuration, o.rounds, o.warmup)
	p("- gateway CPU: utime+stime of the gateway from /proc over each run plus %s, divided by requests sent. "+
		"×openai is the ratio to `%s`: the same door and the OpenAI protocol upstream, so no translation between protocols.\n\n", settle, protocolBaseline)

	p("| alias | upstream protocol | p50 @%d/s | ×openai | p99 @%d/s | ×openai | peak req/s | ×openai | gateway CPU ms/req @%d/s | ×openai | gateway CPU ms/req @peak | ×openai | ok (open / peak) |\n",
		o.rate, o.rate, o.rate)
	p("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	var notes []string
	for _, a := range protocolAliases {
		r, ok := open[a.alias]
		if !ok {
			continue
		}
		pk := peak[a.alias]
		p("| %s | %s | %s | %s | %s | %s | %.0f | %s | %s | %s | %s | %s | %.2f%% / %.2f%% |\n",
			a.alias, a.upstream,
			benchkit.MS(r.p50), ratio(float64(r.p50), float64(base.p50)),
			benchkit.MS(r.p99), ratio(float64(r.p99), float64(base.p99)),
			pk.rps(), ratio(pk.rps(), basePeak.rps()),
			cpuStr(r), ratio(r.cpuMsPerReq(), base.cpuMsPerReq()),
			cpuStr(pk), ratio(pk.cpuMsPerReq(), basePeak.cpuMsPerReq()),
			100*r.successRatio(), 100*pk.successRatio())
		if achieved := float64(r.sent) / o.duration.Seconds(); achieved < 0.95*float64(o.rate) {
			notes = append(notes, fmt.Sprintf("%s: the open loop sent only %.0f req/s of the %d asked (load generator behind)", a.alias, achieved, o.rate))
		}
		if e := sortedErrs(r.errs); len(e) > 0 {
			notes = append(notes, fmt.Sprintf("%s open-loop errors: %s", a.alias, strings.Join(first(e, 5), "; ")))
		}
		if e := sortedErrs(pk.errs); len(e) > 0 {
			notes = append(notes, fmt.Sprintf("%s closed-loop errors: %s", a.alias, strings.Join(first(e, 5), "; ")))
		}
	}
	p("\n")
	for _, n := range notes {
		p("- **%s**\n", n)
	}
	if len(notes) > 0 {
		p("\n")
	}

	p("Where the CPU went during the closed-loop run, in ms per request (/proc/<pid>/stat; whole machine from /proc/stat). " +
		"The simulator column is the other side of each codec: it too parses and writes that protocol (and verifies SigV4 for Bedrock).\n\n")
	p("| alias | peak req/s | load gen | simulator | gateway | ×openai | whole machine | machine busy | steal |\n")
	p("|---|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, a := range protocolAliases {
		pk, ok := peak[a.alias]
		if !ok || pk.sent == 0 {
			continue
		}
		busy, steal := "—", "—"
		if pk.host.Total > 0 {
			busy = fmt.Sprintf("%.0f%%", pk.host.BusyPct())
			steal = fmt.Sprintf("%.1f%%", 100*float64(pk.host.Steal)/float64(pk.host.Total))
		}
		p("| %s | %.0f | %.3f | %.3f | %s | %s | %.3f | %s | %s |\n", a.alias, pk.rps(),
			pk.perReq(pk.selfTicks), pk.perReq(pk.simTicks), cpuStr(pk), ratio(pk.cpuMsPerReq(), basePeak.cpuMsPerReq()),
			pk.perReq(pk.host.Busy), busy, steal)
	}
	p("\n")

	p("## Usage check\n\n")
	p("`GET /admin/v1/usage?key_id=…` (which flushes the meter) for each alias's key must count every request that succeeded, warm-up included.\n\n")
	p("| alias | succeeded | metered | input tokens/req | output tokens/req | cost USD | check |\n")
	p("|---|--:|--:|--:|--:|--:|---|\n")
	for _, t := range b.targets {
		u, c := pr.perKey[t.name], t.usage
		check := "match"
		switch {
		case c == nil:
			check = "not checked"
		case c.err != nil:
			check = "**failed: " + c.err.Error() + "**"
		case c.metered != c.sent:
			check = fmt.Sprintf("**MISMATCH (%+d)**", c.metered-c.sent)
		}
		var sent int64
		if c != nil {
			sent = c.sent
		}
		p("| %s | %d | %d | %s | %s | %.6f | %s |\n", t.name, sent, u.Requests,
			perReqStr(u.InputTokens, u.Requests), perReqStr(u.OutputTokens, u.Requests), u.CostUSD, check)
	}
	p("\n")
	if pr.totalErr == nil {
		p("- all keys: %d requests, %d input and %d output tokens metered, $%.6f\n", pr.total.Requests, pr.total.InputTokens, pr.total.OutputTokens, pr.total.CostUSD)
	}
	if pr.simStatsErr == nil {
		d := func(f func(simStats) map[string]int64) string {
			after, before := f(pr.simAfter), f(pr.simBefore)
			var models []string
			for k := range after {
				models = append(models, k)
			}
			slices.Sort(models)
			var parts []string
			for _, k := range models {
				parts = append(parts, fmt.Sprintf("%s %d", k, after[k]-before[k]))
			}
			return strings.Join(parts, ", ")
		}
		p("- the simulator (`GET /sim/stats`, per upstream model): requests %s; completed %s; input tokens %s; output tokens %s\n",
			d(func(s simStats) map[string]int64 { return s.Requests }), d(func(s simStats) map[string]int64 { return s.Completed }),
			d(func(s simStats) map[string]int64 { return s.InputTokens }), d(func(s simStats) map[string]int64 { return s.OutputTokens }))
	} else {
		p("- **GET /sim/stats failed: %v**\n", pr.simStatsErr)
	}
	for _, m := range pr.mismatches {
		p("- **MISMATCH: %s**\n", m)
	}
	if len(pr.mismatches) == 0 {
		p("- every check matches\n")
	}
	p("- gateway: %s\n", pr.exit)
	return w.String()
}

func perReqStr(n, requests int64) string {
	if requests == 0 {
		return "—"
	}
	return fmt.Sprintf("%.2f", float64(n)/float64(requests))
}
