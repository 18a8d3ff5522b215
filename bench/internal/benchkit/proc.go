// Package benchkit holds what the benchmark programs under bench/
// (overhead, failover) share: starting `causeway` and its simulator as
// child processes that never outlive the benchmark, reading CPU time and
// memory from /proc, the load generator's HTTP client and request body,
// latency quantiles, admin calls, and the header facts and file output of
// the Markdown reports.
package benchkit

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Child is a process the benchmark started. Every child is registered so
// that KillAll stops it when the benchmark exits, whatever the reason.
type Child struct {
	Name    string
	LogPath string
	cmd     *exec.Cmd
	done    chan struct{} // closed when the process has exited
	Err     error         // Wait's result, valid once Exited reports true
}

var (
	childrenMu sync.Mutex
	children   []*Child
)

// StartChild starts argv as a separate process with stdout and stderr in
// logPath. It gets its own process group (a Ctrl-C in the terminal reaches
// only the benchmark, which then stops it) and is killed by the kernel if
// the benchmark dies first.
func StartChild(name, logPath string, env []string, argv ...string) (*Child, error) {
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	c := &Child{Name: name, cmd: cmd, LogPath: logPath, done: make(chan struct{})}
	go func() {
		c.Err = cmd.Wait()
		close(c.done)
	}()
	childrenMu.Lock()
	children = append(children, c)
	childrenMu.Unlock()
	return c, nil
}

// Pid is the child's process id.
func (c *Child) Pid() int { return c.cmd.Process.Pid }

// Exited reports whether the process has exited.
func (c *Child) Exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// Terminate sends SIGTERM and waits up to grace for the exit, then kills.
// It reports whether the process exited on its own and how long it took.
func (c *Child) Terminate(grace time.Duration) (clean bool, took time.Duration) {
	start := time.Now()
	if c.Exited() {
		return c.Err == nil, 0
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
		return c.Err == nil, time.Since(start)
	case <-time.After(grace):
		_ = c.cmd.Process.Kill()
		<-c.done
		return false, time.Since(start)
	}
}

// KillAll stops every child still running: SIGTERM, then SIGKILL after a
// short grace.
func KillAll() {
	childrenMu.Lock()
	cs := append([]*Child(nil), children...)
	childrenMu.Unlock()
	var wg sync.WaitGroup
	for _, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.Terminate(3 * time.Second)
		}()
	}
	wg.Wait()
}

// LogTail returns the last lines of the child's log, for error messages.
func (c *Child) LogTail() string {
	b, err := os.ReadFile(c.LogPath)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > 15 {
		lines = lines[len(lines)-15:]
	}
	return strings.Join(lines, "\n")
}

// WaitReady polls url until it answers 200, the child exits, or the
// timeout passes.
func WaitReady(ctx context.Context, c *Child, url string, timeout time.Duration) error {
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(timeout)
	for {
		if c.Exited() {
			return fmt.Errorf("%s exited before it was ready (%v); log tail:\n%s", c.Name, c.Err, c.LogTail())
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready at %s after %v; log tail:\n%s", c.Name, url, timeout, c.LogTail())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// FreeAddr returns a loopback address with a port that was free a moment
// ago.
func FreeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// ModuleRoot returns the directory of the causeway module's go.mod. prog
// ("overhead") names the program in the error when run from elsewhere.
func ModuleRoot(prog string) (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("run from inside the causeway module (go run ./bench/%s)", prog)
	}
	return filepath.Dir(gomod), nil
}

// BuildCauseway builds ./cmd/causeway of the module at root into bin.
func BuildCauseway(ctx context.Context, root, bin string) error {
	Logf("building causeway (go build ./cmd/causeway)")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/causeway")
	cmd.Dir = root
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build ./cmd/causeway: %w", err)
	}
	return nil
}

// Logf writes a timestamped progress line to stderr.
func Logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s  "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}

// StartSim starts `bin sim` on a free loopback port with no latency
// (--ttft 0 --itl 0 --quiet, then extra flags), logging to logPath, and
// waits until it answers. It returns the child and its base URL.
func StartSim(ctx context.Context, bin, logPath string, extra ...string) (*Child, string, error) {
	addr, err := FreeAddr()
	if err != nil {
		return nil, "", err
	}
	url := "http://" + addr
	argv := append([]string{bin, "sim", "--listen", addr, "--ttft", "0", "--itl", "0", "--quiet"}, extra...)
	c, err := StartChild("sim", logPath, nil, argv...)
	if err != nil {
		return nil, "", err
	}
	if err := WaitReady(ctx, c, url+"/sim/stats", 15*time.Second); err != nil {
		return nil, "", err
	}
	Logf("simulator on %s (pid %d)", url, c.Pid())
	return c, url, nil
}
