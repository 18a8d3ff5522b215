package main

import (
	"bufio"
	"bytes"
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

	"github.com/jackc/pgx/v5"

	"github.com/causeway-ai/causeway/bench/internal/benchkit"
)

// bench holds everything one benchmark run starts and measures.
type bench struct {
	o       *options
	root    string // module root
	tmp     string
	bin     string // the causeway binary under test
	sim     *benchkit.Child
	simURL  string
	targets []*target
	modes   []benchkit.Mode
	// results[mode][target name] → open-loop and closed-loop runs.
	open, peak map[string]map[string]runResult
	pgNote     string // why the PostgreSQL rows are missing, if they are
	pgDB       string
	started    time.Time
	notes      []string
}

func run(ctx context.Context, o *options) (err error) {
	b := &bench{o: o, started: time.Now(),
		modes: []benchkit.Mode{{Name: "non-streaming"}, {Name: "streaming", Stream: true}},
		open:  map[string]map[string]runResult{}, peak: map[string]map[string]runResult{}}
	if b.root, err = benchkit.ModuleRoot("overhead"); err != nil {
		return err
	}
	if b.tmp, err = os.MkdirTemp("", "causeway-bench-*"); err != nil {
		return err
	}
	if o.keep {
		benchkit.Logf("temporary directory (kept): %s", b.tmp)
	} else {
		defer os.RemoveAll(b.tmp)
	}
	defer b.dropPG()
	defer benchkit.KillAll()

	if err := b.build(ctx); err != nil {
		return err
	}
	if err := b.startAll(ctx); err != nil {
		return err
	}
	for _, m := range b.modes {
		b.open[m.Name] = map[string]runResult{}
		b.peak[m.Name] = map[string]runResult{}
		benchkit.Logf("measuring %s: %d rounds over %d targets", m.Name, b.o.rounds, len(b.targets))
		if err := b.measure(ctx, m); err != nil {
			return err
		}
	}
	for _, t := range b.targets {
		if t.proc != nil {
			t.rssAfter, _ = benchkit.RSSKB(t.proc.Pid())
		}
	}
	if o.streams > 0 {
		if err := b.memory(ctx); err != nil {
			return err
		}
	}
	for _, t := range b.targets {
		if t.gateway {
			b.checkUsage(ctx, t)
		}
	}
	for _, t := range b.targets {
		if t.gateway {
			clean, took := t.proc.Terminate(20 * time.Second)
			if clean {
				t.exit = fmt.Sprintf("SIGTERM → exited cleanly in %.2fs", took.Seconds())
			} else {
				t.exit = fmt.Sprintf("SIGTERM → did NOT exit cleanly (%v) after %.2fs", t.proc.Err, took.Seconds())
			}
			if n, err := countAccessLines(t.proc.LogPath); err == nil {
				t.exit += fmt.Sprintf("; access log: %d request lines", n)
			}
		}
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	report := b.render()
	fmt.Print(report)
	return benchkit.WriteReport(b.root, o.outDir, "overhead", b.started, report)
}

func (b *bench) build(ctx context.Context) error {
	b.bin = filepath.Join(b.tmp, "causeway")
	return benchkit.BuildCauseway(ctx, b.root, b.bin)
}

func (b *bench) startAll(ctx context.Context) (err error) {
	if b.sim, b.simURL, err = benchkit.StartSim(ctx, b.bin, filepath.Join(b.tmp, "sim.log")); err != nil {
		return err
	}
	upstreamHeader := http.Header{"Authorization": {"Bearer sim-key"}, "Content-Type": {"application/json"}}

	if b.o.only[tDirect] {
		b.targets = append(b.targets, &target{name: tDirect, base: b.simURL, model: "gpt-4.1-mini",
			header: upstreamHeader, client: benchkit.NewClient()})
	}
	if b.o.only[tFloor] {
		self, err := os.Executable()
		if err != nil {
			return err
		}
		addr, err := benchkit.FreeAddr()
		if err != nil {
			return err
		}
		c, err := benchkit.StartChild("floor", filepath.Join(b.tmp, "floor.log"), nil,
			self, "-floor-proxy", "-listen", addr, "-upstream", b.simURL)
		if err != nil {
			return err
		}
		base := "http://" + addr
		if err := benchkit.WaitReady(ctx, c, base+"/sim/stats", 15*time.Second); err != nil {
			return err
		}
		t := &target{name: tFloor, base: base, model: "gpt-4.1-mini", header: upstreamHeader, proc: c, client: benchkit.NewClient()}
		t.rssRest, _ = benchkit.RSSKB(c.Pid())
		b.targets = append(b.targets, t)
		benchkit.Logf("floor proxy on %s (pid %d)", base, c.Pid())
	}
	if b.o.only[tSQLite] {
		t, err := b.startGateway(ctx, tSQLite, filepath.Join(b.tmp, "causeway.db"))
		if err != nil {
			return err
		}
		b.targets = append(b.targets, t)
	}
	if b.o.only[tPostgres] {
		dsn, err := b.createPG(ctx)
		if err != nil {
			b.pgNote = "PostgreSQL rows skipped: " + err.Error()
			benchkit.Logf("%s", b.pgNote)
		} else {
			t, err := b.startGateway(ctx, tPostgres, dsn)
			if err != nil {
				return err
			}
			b.targets = append(b.targets, t)
		}
	}
	if len(b.targets) == 0 {
		return errors.New("no target to measure")
	}
	return nil
}

// createPG creates a fresh database for the PostgreSQL gateway and returns
// its URL.
func (b *bench) createPG(ctx context.Context) (string, error) {
	cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	conn, err := pgx.Connect(cctx, b.o.pgAdmin)
	if err != nil {
		return "", fmt.Errorf("PostgreSQL unreachable at %s (%v)", redactURL(b.o.pgAdmin), err)
	}
	defer conn.Close(context.Background())
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	name := "causeway_bench_" + time.Now().Format("20060102_150405") + "_" + hex.EncodeToString(rnd[:])
	if _, err := conn.Exec(cctx, "CREATE DATABASE "+name); err != nil {
		return "", fmt.Errorf("CREATE DATABASE: %v", err)
	}
	b.pgDB = name
	cfg := conn.Config()
	user := cfg.User
	dsn := fmt.Sprintf("postgres://%s@%s:%d/%s?sslmode=disable", user, cfg.Host, cfg.Port, name)
	if cfg.Password != "" {
		dsn = fmt.Sprintf("postgres://%s:%s@%s:%d/%s?sslmode=disable", user, cfg.Password, cfg.Host, cfg.Port, name)
	}
	return dsn, nil
}

// dropPG drops the database createPG made, once its gateway has stopped.
func (b *bench) dropPG() {
	if b.pgDB == "" {
		return
	}
	benchkit.KillAll()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, b.o.pgAdmin)
	if err != nil {
		benchkit.Logf("could not drop database %s: %v", b.pgDB, err)
		return
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+b.pgDB+" WITH (FORCE)"); err != nil {
		benchkit.Logf("could not drop database %s: %v", b.pgDB, err)
		return
	}
	b.pgDB = ""
}

func redactURL(s string) string {
	if i := strings.Index(s, "://"); i >= 0 {
		if j := strings.Index(s[i+3:], "@"); j >= 0 {
			if k := strings.Index(s[i+3:i+3+j], ":"); k >= 0 {
				return s[:i+3+k+1] + "***" + s[i+3+j:]
			}
		}
	}
	return s
}

const gatewayConfig = `# Written by bench/overhead: the shape of examples/sim.yaml, production
# defaults otherwise (access log on, usage flushed every 200ms).
listen: %q
store: %q
admin_key: %q
log: {level: info, requests: true}
providers:
  - name: sim-openai
    type: openai
    base_url: %q
    api_key: sim-key
    timeouts: {connect: 2s, first_token: 30s, idle: 30s, total: 5m}
models:
  - alias: sim-openai
    targets:
      - provider: sim-openai
        model: gpt-4.1-mini
        price: {input_per_mtok: 0.40, output_per_mtok: 1.60, cached_input_per_mtok: 0.10}
`

func (b *bench) startGateway(ctx context.Context, name, store string) (*target, error) {
	addr, err := benchkit.FreeAddr()
	if err != nil {
		return nil, err
	}
	var rnd [16]byte
	_, _ = rand.Read(rnd[:])
	adminKey := "bench-admin-" + hex.EncodeToString(rnd[:])
	cfgPath := filepath.Join(b.tmp, name+".yaml")
	cfg := fmt.Sprintf(gatewayConfig, addr, store, adminKey, b.simURL+"/v1")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		return nil, err
	}
	c, err := benchkit.StartChild(name, filepath.Join(b.tmp, name+".log"), nil, b.bin, "serve", "--config", cfgPath)
	if err != nil {
		return nil, err
	}
	base := "http://" + addr
	if err := benchkit.WaitReady(ctx, c, base+"/readyz", 30*time.Second); err != nil {
		return nil, err
	}
	t := &target{name: name, base: base, model: "sim-openai", proc: c, client: benchkit.NewClient(), gateway: true, adminKey: adminKey}
	var key struct {
		ID  string `json:"id"`
		Key string `json:"key"`
	}
	status, err := adminCall(ctx, t, http.MethodPost, "/admin/v1/keys", `{"name":"bench","budget_usd":1000000}`, &key)
	if err != nil || status != http.StatusCreated || key.Key == "" {
		return nil, fmt.Errorf("%s: create key: status %d, %v", name, status, err)
	}
	t.keyID = key.ID
	t.header = http.Header{"Authorization": {"Bearer " + key.Key}, "Content-Type": {"application/json"}}
	t.rssRest, _ = benchkit.RSSKB(c.Pid())
	benchkit.Logf("%s on %s (pid %d), key %s", name, base, c.Pid(), key.ID)
	return t, nil
}

// measure runs one mode: each target is warmed up, then the open-loop
// and the closed-loop runs are cut into rounds, each round visiting every
// target in turn (starting with a different one each round), so that
// noise from the rest of the machine lands on every target alike.
func (b *bench) measure(ctx context.Context, m benchkit.Mode) error {
	open, peak := b.open[m.Name], b.peak[m.Name]
	for _, t := range b.targets {
		if b.o.warmup <= 0 {
			break
		}
		w := attack(ctx, t, b.sim, benchkit.ChatBody(t.model, m.Stream, 16), m.Stream, 0, uint64(b.o.workers), b.o.warmup)
		if err := ctx.Err(); err != nil {
			return err
		}
		if w.ok == 0 {
			return fmt.Errorf("%s %s warm-up: no request succeeded: %s", t.name, m.Name, strings.Join(sortedErrs(w.errs), "; "))
		}
	}
	rounds := b.o.rounds
	n := len(b.targets)
	for _, closed := range []bool{false, true} {
		dur, rate, res := b.o.duration/time.Duration(rounds), b.o.rate, open
		if closed {
			dur, rate, res = b.o.peakDuration/time.Duration(rounds), 0, peak
		}
		for r := range rounds {
			for i := range n {
				t := b.targets[(r+i)%n]
				if t.proc != nil && t.proc.Exited() {
					return fmt.Errorf("%s exited (%v); log tail:\n%s", t.name, t.proc.Err, t.proc.LogTail())
				}
				one := attack(ctx, t, b.sim, benchkit.ChatBody(t.model, m.Stream, 16), m.Stream, rate, uint64(b.o.workers), dur)
				if err := ctx.Err(); err != nil {
					return err
				}
				acc := res[t.name]
				acc.merge(one)
				res[t.name] = acc
			}
		}
	}
	for _, t := range b.targets {
		r, p := open[t.name], peak[t.name]
		benchkit.Logf("[%s] %-16s open loop %d/s: sent %d, ok %.2f%%, p50 %s p99 %s max %s, cpu %s ms/req; closed loop %d workers: %.0f req/s, ok %.2f%%, cpu %s ms/req",
			m.Name, t.name, b.o.rate, r.sent, 100*r.successRatio(), benchkit.MS(r.p50), benchkit.MS(r.p99), benchkit.MS(r.max), cpuStr(r),
			b.o.workers, p.rps(), 100*p.successRatio(), cpuStr(p))
	}
	return nil
}

// memory holds -streams streams open through each proxy (floor and
// gateways) with the simulator slowed down, sampling RSS.
func (b *bench) memory(ctx context.Context) error {
	if err := b.setSimLatency(ctx, 0, 50); err != nil {
		return err
	}
	defer func() {
		if err := b.setSimLatency(context.Background(), 0, 0); err != nil {
			benchkit.Logf("could not reset the simulator's latency: %v", err)
		}
	}()
	for _, t := range b.targets {
		if t.proc == nil {
			continue
		}
		// No max_tokens: 20–28 tokens at 50 ms each keeps a stream open 1–1.4 s.
		t.streams = holdStreams(ctx, t, benchkit.ChatBody(t.model, true, 0), b.o.streams)
		s := t.streams
		benchkit.Logf("%-16s %d open streams: %d ok in %.2fs, RSS peak %s", t.name, s.n, s.ok, s.took.Seconds(), mib(s.peakKB))
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	return nil
}

func (b *bench) setSimLatency(ctx context.Context, ttftMS, itlMS int) error {
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	body := fmt.Sprintf(`{"ttft_ms":%d,"itl_ms":%d}`, ttftMS, itlMS)
	req, _ := http.NewRequestWithContext(cctx, http.MethodPut, b.simURL+"/sim/latency", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("PUT /sim/latency: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("PUT /sim/latency: status %d", resp.StatusCode)
	}
	return nil
}

// usageCheck compares what the gateway metered for the bench key with
// what the benchmark saw succeed.
type usageCheck struct {
	metered int64
	sent    int64
	err     error
}

func (b *bench) checkUsage(ctx context.Context, t *target) {
	var u struct {
		Requests int64 `json:"requests"`
	}
	_, err := adminCall(ctx, t, http.MethodGet, "/admin/v1/usage?key_id="+t.keyID, "", &u)
	t.usage = &usageCheck{metered: u.Requests, sent: t.okSent.Load(), err: err}
	if err == nil && u.Requests != t.okSent.Load() {
		benchkit.Logf("!!! %s usage MISMATCH: metered %d requests, %d succeeded", t.name, u.Requests, t.okSent.Load())
	}
}

func countAccessLines(path string) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		if bytes.Contains(sc.Bytes(), []byte(`"msg":"request"`)) {
			n++
		}
	}
	return n, sc.Err()
}

func adminCall(ctx context.Context, t *target, method, path, body string, out any) (int, error) {
	return benchkit.Call(ctx, 30*time.Second, method, t.base+path, "Bearer "+t.adminKey, body, out)
}
