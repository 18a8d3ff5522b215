package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/causeway-ai/causeway/bench/internal/benchkit"
)

const alias = "sim-ha"

// scenario is one state of the primary target during a measured run.
type scenario struct {
	name  string
	fault func(o *options) string // body of POST /sim/faults; nil: no fault
	stall bool                    // run the gateway on the config copy with a short first_token timeout
}

var scenarios = []scenario{
	{name: "healthy"},
	{name: "primary-503", fault: func(*options) string { return `{"model":"primary","status":503}` }},
	{name: "primary-stall", stall: true, fault: func(o *options) string { return fmt.Sprintf(`{"model":"primary","stall_ms":%d}`, o.stallMS) }},
	{name: "primary-429", fault: func(*options) string { return `{"model":"primary","status":429,"retry_after_s":1}` }},
}

func scenarioNames() []string {
	var out []string
	for _, s := range scenarios {
		out = append(out, s.name)
	}
	return out
}

var modes = []benchkit.Mode{{Name: "non-streaming"}, {Name: "streaming", Stream: true}}

// outcome is one measured run: one scenario, one mode.
type outcome struct {
	res               runResult
	fault             string
	primary, backup   int64  // requests the simulator received during the run, per upstream model
	primaryState      string // the primary target in GET /admin/v1/targets after the run
	primaryEjections  int64
	gatewayExit       string
	warmupOK, warmupN int
}

// bench holds everything one benchmark run starts and measures.
type bench struct {
	o          *options
	root       string
	tmp        string
	bin        string
	sim        *benchkit.Child
	simURL     string
	cfg        string // examples/routing.yaml
	stallCfg   string // its copy with a short first_token timeout
	store      string
	adminKey   string
	key        string
	started    time.Time
	results    map[string]map[string]*outcome // scenario → mode → outcome
	gatewayRun int
	loadStart  string
}

// gateway is one running `causeway serve`.
type gateway struct {
	c      *benchkit.Child
	base   string
	client *http.Client
}

func run(ctx context.Context, o *options) (err error) {
	b := &bench{o: o, started: time.Now(), results: map[string]map[string]*outcome{}, loadStart: benchkit.LoadAvg()}
	if b.root, err = benchkit.ModuleRoot("failover"); err != nil {
		return err
	}
	if b.tmp, err = os.MkdirTemp("", "causeway-failover-*"); err != nil {
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
	if err := b.writeConfigs(); err != nil {
		return err
	}
	if err := b.startSim(ctx); err != nil {
		return err
	}
	var rnd [16]byte
	_, _ = rand.Read(rnd[:])
	b.adminKey = "bench-admin-" + hex.EncodeToString(rnd[:])
	b.store = filepath.Join(b.tmp, "c.db")

	for _, s := range scenarios {
		if !o.only[s.name] {
			continue
		}
		b.results[s.name] = map[string]*outcome{}
		for _, m := range modes {
			out, err := b.runOne(ctx, s, m)
			if err != nil {
				return fmt.Errorf("%s %s: %w", s.name, m.Name, err)
			}
			b.results[s.name][m.Name] = out
		}
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	report := b.render()
	fmt.Print(report)
	return benchkit.WriteReport(b.root, o.outDir, "failover", b.started, report)
}

func (b *bench) build(ctx context.Context) error {
	b.bin = filepath.Join(b.tmp, "causeway")
	return benchkit.BuildCauseway(ctx, b.root, b.bin)
}

// writeConfigs points at examples/routing.yaml and writes the copy used
// by primary-stall, whose only change is the providers' first_token
// timeout.
func (b *bench) writeConfigs() error {
	b.cfg = filepath.Join(b.root, "examples", "routing.yaml")
	data, err := os.ReadFile(b.cfg)
	if err != nil {
		return err
	}
	const from = "first_token: 10s"
	if n := strings.Count(string(data), from); n != 2 {
		return fmt.Errorf("%s: expected %q twice (once per provider), found it %d times", b.cfg, from, n)
	}
	cp := strings.ReplaceAll(string(data), from, "first_token: "+b.o.stallFirstToken.String())
	cp = "# Written by bench/failover: examples/routing.yaml with first_token " + b.o.stallFirstToken.String() + " instead of 10s.\n" + cp
	b.stallCfg = filepath.Join(b.tmp, "routing-stall.yaml")
	return os.WriteFile(b.stallCfg, []byte(cp), 0o600)
}

func (b *bench) startSim(ctx context.Context) (err error) {
	b.sim, b.simURL, err = benchkit.StartSim(ctx, b.bin, filepath.Join(b.tmp, "sim.log"))
	return err
}

// startGateway starts a fresh `causeway serve` (fresh health state; the
// store, and with it the bench key, is kept across restarts).
func (b *bench) startGateway(ctx context.Context, cfg, label string) (*gateway, error) {
	addr, err := benchkit.FreeAddr()
	if err != nil {
		return nil, err
	}
	b.gatewayRun++
	env := []string{
		"CAUSEWAY_SIM_URL=" + b.simURL,
		"CAUSEWAY_LISTEN=" + addr,
		"CAUSEWAY_STORE=" + b.store,
		"CAUSEWAY_ADMIN_KEY=" + b.adminKey,
	}
	logPath := filepath.Join(b.tmp, fmt.Sprintf("gateway-%02d-%s.log", b.gatewayRun, label))
	c, err := benchkit.StartChild("gateway", logPath, env, b.bin, "serve", "--config", cfg)
	if err != nil {
		return nil, err
	}
	g := &gateway{c: c, base: "http://" + addr, client: benchkit.NewClient()}
	if err := benchkit.WaitReady(ctx, c, g.base+"/readyz", 30*time.Second); err != nil {
		return nil, err
	}
	if b.key == "" {
		var key struct {
			Key string `json:"key"`
		}
		status, err := b.call(ctx, http.MethodPost, g.base+"/admin/v1/keys", "Bearer "+b.adminKey, `{"name":"bench"}`, &key)
		if err != nil || status != http.StatusCreated || key.Key == "" {
			return nil, fmt.Errorf("create key: status %d, %v", status, err)
		}
		b.key = key.Key
	}
	return g, nil
}

type simStats struct {
	Requests map[string]int64 `json:"requests"`
}

func (b *bench) stats(ctx context.Context) (simStats, error) {
	var s simStats
	_, err := b.call(ctx, http.MethodGet, b.simURL+"/sim/stats", "", "", &s)
	return s, err
}

func (b *bench) clearFaults() error {
	_, err := b.call(context.Background(), http.MethodDelete, b.simURL+"/sim/faults", "", "", nil)
	return err
}

// primaryHealth reads the primary target's state from GET /admin/v1/targets.
func (b *bench) primaryHealth(ctx context.Context, g *gateway) (string, int64, error) {
	var v struct {
		Data []struct {
			Model   string `json:"model"`
			Targets []struct {
				UpstreamModel string `json:"upstream_model"`
				State         string `json:"state"`
				Ejections     int64  `json:"ejections"`
			} `json:"targets"`
		} `json:"data"`
	}
	if _, err := b.call(ctx, http.MethodGet, g.base+"/admin/v1/targets", "Bearer "+b.adminKey, "", &v); err != nil {
		return "", 0, err
	}
	for _, a := range v.Data {
		if a.Model != alias {
			continue
		}
		for _, t := range a.Targets {
			if t.UpstreamModel == "primary" {
				return t.State, t.Ejections, nil
			}
		}
	}
	return "", 0, errors.New("no primary target for " + alias + " in /admin/v1/targets")
}

// runOne restarts the gateway, warms it up healthy, injects the
// scenario's fault and measures at once, so that the failures before the
// ejection and the probes after it are in the numbers.
func (b *bench) runOne(ctx context.Context, s scenario, m benchkit.Mode) (*outcome, error) {
	cfg := b.cfg
	if s.stall {
		cfg = b.stallCfg
	}
	if err := b.clearFaults(); err != nil {
		return nil, err
	}
	g, err := b.startGateway(ctx, cfg, s.name+"-"+m.Name)
	if err != nil {
		return nil, err
	}
	defer g.client.CloseIdleConnections()
	out := &outcome{}
	header := http.Header{"Authorization": {"Bearer " + b.key}, "Content-Type": {"application/json"}}
	body := benchkit.ChatBody(alias, m.Stream, 16)
	if b.o.warmup > 0 {
		w := attack(ctx, g.client, g.base, header, body, m.Stream, b.o.rate, b.o.warmup, 0)
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		out.warmupOK, out.warmupN = w.ok, w.sent
		if w.ok == 0 {
			return nil, fmt.Errorf("warm-up: no request succeeded: %s", strings.Join(sortedErrs(w.errs), "; "))
		}
	}
	s0, err := b.stats(ctx)
	if err != nil {
		return nil, err
	}
	if s.fault != nil {
		out.fault = s.fault(b.o)
		if _, err := b.call(ctx, http.MethodPost, b.simURL+"/sim/faults", "", out.fault, nil); err != nil {
			return nil, err
		}
	}
	defer func() {
		if err := b.clearFaults(); err != nil {
			benchkit.Logf("could not clear the simulator's faults: %v", err)
		}
	}()
	benchkit.Logf("%-13s %-13s %d req/s for %s (gateway pid %d, fault %s)", s.name, m.Name, b.o.rate, b.o.duration, g.c.Pid(), orNone(out.fault))
	out.res = attack(ctx, g.client, g.base, header, body, m.Stream, b.o.rate, b.o.duration, g.c.Pid())
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	s1, err := b.stats(ctx)
	if err != nil {
		return nil, err
	}
	out.primary = s1.Requests["primary"] - s0.Requests["primary"]
	out.backup = s1.Requests["backup"] - s0.Requests["backup"]
	if st, ej, err := b.primaryHealth(ctx, g); err == nil {
		out.primaryState, out.primaryEjections = st, ej
	} else {
		out.primaryState = "? (" + err.Error() + ")"
	}
	if err := b.clearFaults(); err != nil {
		return nil, err
	}
	clean, took := g.c.Terminate(20 * time.Second)
	if clean {
		out.gatewayExit = fmt.Sprintf("exited cleanly in %.2fs", took.Seconds())
	} else {
		out.gatewayExit = fmt.Sprintf("did NOT exit cleanly (%v) after %.2fs; log tail:\n%s", g.c.Err, took.Seconds(), g.c.LogTail())
	}
	r := out.res
	benchkit.Logf("%-13s %-13s sent %d, ok %.2f%%, p50 %s p99 %s max %s; upstream primary %d backup %d (%.2f/req); primary %s, %d ejections",
		s.name, m.Name, r.sent, 100*r.successRatio(), benchkit.MS(r.q(0.5)), benchkit.MS(r.q(0.99)), benchkit.MS(r.max()),
		out.primary, out.backup, perReq(out.primary+out.backup, r.sent), out.primaryState, out.primaryEjections)
	for _, e := range first(sortedErrs(r.errs), 5) {
		benchkit.Logf("    error: %s", e)
	}
	return out, nil
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func perReq(n int64, sent int) float64 {
	if sent == 0 {
		return 0
	}
	return float64(n) / float64(sent)
}

func first(s []string, n int) []string {
	if len(s) > n {
		return append(s[:n:n], fmt.Sprintf("… and %d more distinct", len(s)-n))
	}
	return s
}

// call sends one control request and decodes a JSON answer into out.
func (b *bench) call(ctx context.Context, method, url, auth, body string, out any) (int, error) {
	status, err := benchkit.Call(ctx, 10*time.Second, method, url, auth, body, out)
	if se := (*benchkit.StatusError)(nil); errors.As(err, &se) {
		err = fmt.Errorf("%s %s: %s", method, url, se.Body)
	}
	return status, err
}
