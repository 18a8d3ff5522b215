// Command runtime measures what the stateful runtime adds to time to first
// event: the same streamed prompt sent through the plain chat path
// (POST /v1/chat/completions) and through the Responses API
// (POST /v1/responses, stored), to the same alias on the simulator with no
// latency, so that every millisecond measured is Causeway's.
//
//	go run ./bench/runtime [-n 1000] [-rate 100]
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/causeway-ai/causeway/bench/internal/benchkit"
)

type sample struct{ first, content, total time.Duration }

func main() {
	n := flag.Int("n", 1000, "requests per path")
	rate := flag.Int("rate", 100, "requests per second (open loop)")
	flag.Parse()
	if err := run(*n, *rate); err != nil {
		benchkit.KillAll()
		fmt.Fprintln(os.Stderr, "runtime bench:", err)
		os.Exit(1)
	}
	benchkit.KillAll()
}

func run(n, rate int) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	started := time.Now()
	root, err := benchkit.ModuleRoot("runtime")
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "causeway-bench-runtime-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "causeway")
	if err := benchkit.BuildCauseway(ctx, root, bin); err != nil {
		return err
	}
	_, simURL, err := benchkit.StartSim(ctx, bin, filepath.Join(dir, "sim.log"), "--api-key", "sim-key")
	if err != nil {
		return err
	}
	addr, err := benchkit.FreeAddr()
	if err != nil {
		return err
	}
	gw, err := benchkit.StartChild("gateway", filepath.Join(dir, "gateway.log"), []string{
		"CAUSEWAY_SIM_URL=" + simURL, "CAUSEWAY_LISTEN=" + addr,
		"CAUSEWAY_STORE=" + filepath.Join(dir, "c.db"), "CAUSEWAY_ADMIN_KEY=bench-admin",
	}, bin, "serve", "--config", filepath.Join(root, "examples", "sim.yaml"))
	if err != nil {
		return err
	}
	base := "http://" + addr
	if err := benchkit.WaitReady(ctx, gw, base+"/readyz", 20*time.Second); err != nil {
		return err
	}
	var key struct{ Key string }
	if _, err := benchkit.Call(ctx, 5*time.Second, http.MethodPost, base+"/admin/v1/keys", "Bearer bench-admin", `{"name":"bench","user":"bench"}`, &key); err != nil {
		return err
	}
	client := benchkit.NewClient()
	const prompt = "Say something about gateways."
	paths := []struct {
		name, path, body, contentMarker string
	}{
		{"chat", "/v1/chat/completions", `{"model":"sim-openai","stream":true,"max_tokens":16,"messages":[{"role":"user","content":"` + prompt + `"}]}`, `"content":"`},
		{"responses", "/v1/responses", `{"model":"sim-openai","stream":true,"max_output_tokens":16,"input":"` + prompt + `"}`, `response.output_text.delta`},
	}
	// Warm up both paths.
	for _, p := range paths {
		for range 50 {
			if _, err := once(ctx, client, base+p.path, key.Key, p.body, p.contentMarker); err != nil {
				return fmt.Errorf("%s warm-up: %w", p.name, err)
			}
		}
	}
	results := map[string][]sample{}
	var mu sync.Mutex
	var errs int
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	var wg sync.WaitGroup
	for i := range 2 * n {
		<-tick.C
		p := paths[i%2] // interleaved, so machine noise falls on both
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := once(ctx, client, base+p.path, key.Key, p.body, p.contentMarker)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs++
				return
			}
			results[p.name] = append(results[p.name], s)
		}()
	}
	wg.Wait()
	var b strings.Builder
	fmt.Fprintf(&b, "# Causeway runtime: time to first event, Responses API vs plain chat\n\n```\n%s\n```\n\n", benchkit.CommandLine("runtime", os.Args[1:]))
	fmt.Fprintf(&b, "- date: %s; nproc %s; %d requests per path at %d req/s in all (interleaved), streamed, `max_tokens` 16, alias `sim-openai` on `causeway sim --ttft 0 --itl 0`; Responses are stored (store defaults to true); errors: %d\n\n", started.UTC().Format(time.RFC3339), benchkit.Nproc(), n, rate, errs)
	fmt.Fprintf(&b, "| path | first event p50 | p99 | first content p50 | p99 | whole stream p50 | p99 |\n|---|--:|--:|--:|--:|--:|--:|\n")
	med := map[string][3]time.Duration{}
	for _, p := range paths {
		ss := results[p.name]
		var f, c, t []time.Duration
		for _, s := range ss {
			f, c, t = append(f, s.first), append(c, s.content), append(t, s.total)
		}
		slices.Sort(f)
		slices.Sort(c)
		slices.Sort(t)
		med[p.name] = [3]time.Duration{benchkit.Quantile(f, .5), benchkit.Quantile(c, .5), benchkit.Quantile(t, .5)}
		fmt.Fprintf(&b, "| %s (%d) | %s | %s | %s | %s | %s | %s |\n", p.path, len(ss),
			benchkit.MS(benchkit.Quantile(f, .5)), benchkit.MS(benchkit.Quantile(f, .99)),
			benchkit.MS(benchkit.Quantile(c, .5)), benchkit.MS(benchkit.Quantile(c, .99)),
			benchkit.MS(benchkit.Quantile(t, .5)), benchkit.MS(benchkit.Quantile(t, .99)))
	}
	fmt.Fprintf(&b, "\nRuntime overhead at p50: first event %+.2f ms, first content %+.2f ms, whole stream %+.2f ms.\n",
		ms(med["responses"][0]-med["chat"][0]), ms(med["responses"][1]-med["chat"][1]), ms(med["responses"][2]-med["chat"][2]))
	fmt.Print(b.String())
	return benchkit.WriteReport(root, "", "runtime", started, b.String())
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// once sends one streamed request and times its first SSE event, its first
// content event and its end.
func once(ctx context.Context, c *http.Client, url, key, body, marker string) (sample, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	start := time.Now()
	resp, err := c.Do(req)
	if err != nil {
		return sample{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return sample{}, fmt.Errorf("status %d", resp.StatusCode)
	}
	var s sample
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "data:") && !strings.HasPrefix(line, "event:") {
			continue
		}
		now := time.Since(start)
		if s.first == 0 {
			s.first = now
		}
		if s.content == 0 && strings.Contains(line, marker) {
			s.content = now
		}
	}
	s.total = time.Since(start)
	if err := sc.Err(); err != nil {
		return s, err
	}
	if s.content == 0 {
		return s, fmt.Errorf("no content event")
	}
	return s, nil
}
