package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/causeway-ai/causeway/internal/billing"
	"github.com/causeway-ai/causeway/internal/sim"
	"github.com/causeway-ai/causeway/internal/store"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// binary builds the causeway binary once for the package's tests.
func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "causeway-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "causeway")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// lineWatcher collects a process's output and finds lines in it.
type lineWatcher struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	lines chan string
}

func watch(r io.Reader) *lineWatcher {
	w := &lineWatcher{lines: make(chan string, 1024)}
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			w.mu.Lock()
			w.buf.WriteString(sc.Text() + "\n")
			w.mu.Unlock()
			select {
			case w.lines <- sc.Text():
			default:
			}
		}
		close(w.lines)
	}()
	return w
}

func (w *lineWatcher) find(t *testing.T, re *regexp.Regexp) []string {
	t.Helper()
	timeout := time.After(60 * time.Second)
	for {
		select {
		case l, ok := <-w.lines:
			if !ok {
				t.Fatalf("process ended before printing %s; output:\n%s", re, w.String())
			}
			if m := re.FindStringSubmatch(l); m != nil {
				return m
			}
		case <-timeout:
			t.Fatalf("gave up waiting for %s; output:\n%s", re, w.String())
		}
	}
}

func (w *lineWatcher) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

var listenRE = regexp.MustCompile(`"msg":"causeway listening","addr":"([^"]+)"`)

type proc struct {
	cmd *exec.Cmd
	out *lineWatcher
}

func startServe(t *testing.T, env []string) (*proc, string) {
	t.Helper()
	cmd := exec.Command(binary(t), "serve", "--config", "../../examples/sim.yaml")
	cmd.Env = append(os.Environ(), env...)
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, out: watch(stderr)}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	addr := p.out.find(t, listenRE)[1]
	return p, "http://" + addr
}

func post(url, auth, body string) (*http.Response, error) {
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+auth)
	req.Header.Set("Content-Type", "application/json")
	return http.DefaultClient.Do(req)
}

// TestSIGTERMUnderLoadMetersEveryCompletedRequest runs the real binary on
// examples/sim.yaml, loads it, sends SIGTERM mid-load, and checks that
// every request a client saw complete is in the ledger after a restart.
func TestSIGTERMUnderLoadMetersEveryCompletedRequest(t *testing.T) {
	s := sim.New(sim.Options{ITL: time.Millisecond})
	simSrv := httptest.NewServer(s)
	defer simSrv.Close()
	dbPath := filepath.Join(t.TempDir(), "causeway.db")
	env := []string{
		"CAUSEWAY_SIM_URL=" + simSrv.URL,
		"CAUSEWAY_LISTEN=127.0.0.1:0",
		"CAUSEWAY_STORE=" + dbPath,
		"CAUSEWAY_ADMIN_KEY=admin-test",
	}
	p, base := startServe(t, env)

	resp, err := post(base+"/admin/v1/keys", "admin-test", `{"name":"load"}`)
	if err != nil {
		t.Fatal(err)
	}
	var k struct{ ID, Key string }
	_ = json.NewDecoder(resp.Body).Decode(&k)
	resp.Body.Close()
	if k.Key == "" {
		t.Fatalf("no key created (status %d)", resp.StatusCode)
	}

	var (
		mu        sync.Mutex
		completed []string
		stop      atomic.Bool
		wg        sync.WaitGroup
		done      atomic.Int64
	)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; !stop.Load(); i++ {
				stream := (w+i)%2 == 0
				body := fmt.Sprintf(`{"model":"sim-openai","stream":%t,"max_tokens":12,"messages":[{"role":"user","content":"load %d %d"}]}`, stream, w, i)
				resp, err := post(base+"/v1/chat/completions", k.Key, body)
				if err != nil {
					return // the server has gone
				}
				b, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || resp.StatusCode != 200 {
					continue
				}
				if stream && !bytes.HasSuffix(b, []byte("data: [DONE]\n\n")) {
					continue
				}
				mu.Lock()
				completed = append(completed, resp.Header.Get("X-Request-Id"))
				mu.Unlock()
				done.Add(1)
			}
		}()
	}
	for done.Load() < 50 {
		time.Sleep(5 * time.Millisecond)
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err = p.cmd.Wait()
	stop.Store(true)
	wg.Wait()
	if err != nil {
		t.Fatalf("server exited with %v; output:\n%s", err, p.out.String())
	}

	// Restart on the same store and ask the admin API.
	p2, base2 := startServe(t, env)
	req, _ := http.NewRequest(http.MethodGet, base2+"/admin/v1/usage?key_id="+k.ID, nil)
	req.Header.Set("Authorization", "Bearer admin-test")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var u struct{ Requests int64 }
	_ = json.NewDecoder(resp.Body).Decode(&u)
	resp.Body.Close()
	_ = p2.cmd.Process.Signal(syscall.SIGTERM)
	_ = p2.cmd.Wait()
	if u.Requests < int64(len(completed)) {
		t.Fatalf("after restart the ledger holds %d requests, clients completed %d", u.Requests, len(completed))
	}

	// And every completed request id, exactly.
	st, err := store.Open(context.Background(), dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	recs, err := st.ListUsage(context.Background(), billing.UsageFilter{Tenant: "default", KeyID: k.ID}, 100000)
	if err != nil {
		t.Fatal(err)
	}
	have := make(map[string]string, len(recs))
	for _, r := range recs {
		have[r.RequestID] = r.Status
	}
	for _, id := range completed {
		if st, ok := have[id]; !ok || st != billing.StatusOK {
			t.Errorf("completed request %s: ledger status %q (present %v), want ok", id, st, ok)
		}
	}
	t.Logf("%d requests completed by clients, %d records in the ledger", len(completed), len(recs))
}

// TestDemo runs the README's main command as a user would and follows the
// instructions it prints.
func TestDemo(t *testing.T) {
	cmd := exec.Command(binary(t), "demo", "--listen", "127.0.0.1:0", "--store", filepath.Join(t.TempDir(), "demo.db"))
	cmd.Env = append(os.Environ(), "CAUSEWAY_ADMIN_KEY=")
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	out := watch(stdout)
	addr := out.find(t, regexp.MustCompile(`gateway on (http://\S+),`))[1]
	key := out.find(t, regexp.MustCompile(`Demo key \(shown once\):\s+(sk-cw-\S+)`))[1]
	admin := out.find(t, regexp.MustCompile(`Admin key:\s+(\S+)`))[1]
	out.find(t, regexp.MustCompile(`"model":"sim-bedrock","input":"And then\?","previous_response_id"`))
	out.find(t, regexp.MustCompile(`^Metrics:\s+http://\S+/metrics`))

	resp, err := post(addr+"/v1/chat/completions", key, `{"model":"sim-openai","messages":[{"role":"user","content":"Hello, Causeway!"}]}`)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Contains(b, []byte(`"chat.completion"`)) {
		t.Fatalf("demo chat: %d %s", resp.StatusCode, b)
	}
	// The runtime lines the demo prints: a turn on Anthropic continued on
	// Bedrock, and a background response.
	var first struct{ ID, Status string }
	for i, body := range []string{`{"model":"sim-anthropic","input":"Tell me about the bridge."}`,
		`{"model":"sim-bedrock","input":"And then?","previous_response_id":"%s"}`,
		`{"model":"sim-openai","input":"Take your time.","background":true}`} {
		if i == 1 {
			body = fmt.Sprintf(body, first.ID)
		}
		resp, err := post(addr+"/v1/responses", key, body)
		if err != nil {
			t.Fatal(err)
		}
		var r struct{ ID, Status string }
		err = json.NewDecoder(resp.Body).Decode(&r)
		resp.Body.Close()
		want := map[int]string{0: "completed", 1: "completed", 2: "queued"}[i]
		if err != nil || resp.StatusCode != 200 || r.Status != want {
			t.Fatalf("demo response %d: %d %+v %v; want %s", i, resp.StatusCode, r, err, want)
		}
		if i == 0 {
			first = r
		}
	}
	req, _ := http.NewRequest(http.MethodGet, addr+"/metrics", nil)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"causeway_requests_total", "causeway_tokens_total", "causeway_cost_usd_total", "causeway_time_to_first_token_seconds"} {
		if !bytes.Contains(b, []byte(want)) {
			t.Errorf("metrics lack %s", want)
		}
	}
	req, _ = http.NewRequest(http.MethodGet, addr+"/admin/v1/usage", nil)
	req.Header.Set("Authorization", "Bearer "+admin)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var u struct {
		Requests int64
		CostUSD  float64 `json:"cost_usd"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&u)
	resp.Body.Close()
	if u.Requests < 3 || u.CostUSD <= 0 {
		t.Fatalf("demo usage = %+v, want the chat and the responses, priced", u)
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("demo exit: %v", err)
	}
}

func TestConfigCheckAndKeysCLI(t *testing.T) {
	bin := binary(t)
	env := append(os.Environ(), "CAUSEWAY_SIM_URL=http://127.0.0.1:9", "CAUSEWAY_STORE="+filepath.Join(t.TempDir(), "c.db"))
	run := func(args ...string) (string, error) {
		cmd := exec.Command(bin, args...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := run("config", "check", "--config", "../../examples/sim.yaml"); err != nil || !strings.Contains(out, "ok") {
		t.Fatalf("config check: %v\n%s", err, out)
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	_ = os.WriteFile(bad, []byte("listen: x\nbogus: 1\n"), 0o600)
	if out, err := run("config", "check", "--config", bad); err == nil || !strings.Contains(out, "2:1") {
		t.Fatalf("bad config: err %v, output %q; want an error at 2:1", err, out)
	}
	out, err := run("keys", "create", "--name", "cli", "--team", "t", "--models", "sim-openai", "--config", "../../examples/sim.yaml")
	if err != nil {
		t.Fatalf("keys create: %v\n%s", err, out)
	}
	id := regexp.MustCompile(`id:\s+(key_\S+)`).FindStringSubmatch(out)
	if id == nil || !strings.Contains(out, "sk-cw-") {
		t.Fatalf("keys create output %q", out)
	}
	if out, err := run("keys", "list", "--config", "../../examples/sim.yaml"); err != nil || !strings.Contains(out, id[1]) || strings.Contains(out, "sk-cw-") && !strings.Contains(out, "…") {
		t.Fatalf("keys list: %v\n%s", err, out)
	}
	if out, err := run("keys", "revoke", "--config", "../../examples/sim.yaml", id[1]); err != nil {
		t.Fatalf("keys revoke: %v\n%s", err, out)
	}
	for _, sub := range [][]string{{"serve", "--help"}, {"sim", "--help"}, {"demo", "--help"}, {"keys", "create", "--help"}, {"config", "check", "--help"}} {
		if out, err := run(sub...); err != nil || !strings.Contains(out, "Usage: causeway") {
			t.Errorf("%v: %v\n%s", sub, err, out)
		}
	}
	if out, _ := run("version"); !strings.HasPrefix(out, "causeway ") {
		t.Errorf("version: %q", out)
	}
}
