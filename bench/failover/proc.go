package main

// Process helpers, copied from bench/overhead/proc.go (a package main
// cannot be imported).

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// clkTck is sysconf(_SC_CLK_TCK) on Linux: /proc/<pid>/stat counts CPU
// time in these ticks per second.
const clkTck = 100

// child is a process the benchmark started. Every child is registered in
// children so that it is killed when the benchmark exits, whatever the
// reason.
type child struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	done    chan struct{} // closed when the process has exited
	err     error         // Wait's result, valid after done
}

var (
	childrenMu sync.Mutex
	children   []*child
)

// startChild starts argv as a separate process with stdout and stderr in
// logPath. It gets its own process group (a Ctrl-C in the terminal reaches
// only the benchmark, which then stops it) and is killed by the kernel if
// the benchmark dies first.
func startChild(name, logPath string, env []string, argv ...string) (*child, error) {
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
	c := &child{name: name, cmd: cmd, logPath: logPath, done: make(chan struct{})}
	go func() {
		c.err = cmd.Wait()
		close(c.done)
	}()
	childrenMu.Lock()
	children = append(children, c)
	childrenMu.Unlock()
	return c, nil
}

func (c *child) pid() int { return c.cmd.Process.Pid }

func (c *child) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// terminate sends SIGTERM and waits up to grace for the exit, then kills.
// It reports whether the process exited on its own and how long it took.
func (c *child) terminate(grace time.Duration) (clean bool, took time.Duration) {
	start := time.Now()
	if c.exited() {
		return c.err == nil, 0
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
		return c.err == nil, time.Since(start)
	case <-time.After(grace):
		_ = c.cmd.Process.Kill()
		<-c.done
		return false, time.Since(start)
	}
}

// killAll stops every child still running: SIGTERM, then SIGKILL after a
// short grace.
func killAll() {
	childrenMu.Lock()
	cs := append([]*child(nil), children...)
	childrenMu.Unlock()
	var wg sync.WaitGroup
	for _, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.terminate(3 * time.Second)
		}()
	}
	wg.Wait()
}

// logTail returns the last lines of the child's log, for error messages.
func (c *child) logTail() string {
	b, err := os.ReadFile(c.logPath)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > 15 {
		lines = lines[len(lines)-15:]
	}
	return strings.Join(lines, "\n")
}

// waitReady polls url until it answers 200, the child exits, or the
// timeout passes.
func waitReady(ctx context.Context, c *child, url string, timeout time.Duration) error {
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(timeout)
	for {
		if c.exited() {
			return fmt.Errorf("%s exited before it was ready (%v); log tail:\n%s", c.name, c.err, c.logTail())
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
			return fmt.Errorf("%s not ready at %s after %v; log tail:\n%s", c.name, url, timeout, c.logTail())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// freeAddr returns a loopback address with a port that was free a moment
// ago.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// cpuTicks returns utime+stime of pid, in clock ticks.
func cpuTicks(pid int) (int64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces; fields are counted
	// after its closing parenthesis, which starts at field 3 (state).
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errors.New("malformed /proc stat")
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, errors.New("short /proc stat")
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64) // field 14
	stime, err2 := strconv.ParseInt(f[12], 10, 64) // field 15
	if err1 != nil || err2 != nil {
		return 0, errors.New("malformed /proc stat times")
	}
	return utime + stime, nil
}

// hostCPU is the machine-wide CPU time from the first line of /proc/stat,
// in clock ticks.
type hostCPU struct {
	busy  int64 // user, nice, system, irq, softirq
	steal int64 // taken by the hypervisor for other guests
	total int64 // everything, idle and iowait included
}

func readHostCPU() (hostCPU, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return hostCPU{}, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return hostCPU{}, errors.New("malformed /proc/stat")
	}
	var v [8]int64 // user nice system idle iowait irq softirq steal
	for i := range v {
		if v[i], err = strconv.ParseInt(f[i+1], 10, 64); err != nil {
			return hostCPU{}, err
		}
	}
	h := hostCPU{busy: v[0] + v[1] + v[2] + v[5] + v[6], steal: v[7]}
	for _, x := range v {
		h.total += x
	}
	return h, nil
}

func (h hostCPU) sub(o hostCPU) hostCPU {
	return hostCPU{busy: h.busy - o.busy, steal: h.steal - o.steal, total: h.total - o.total}
}

// busyPct is the share of the machine's CPU time that was busy, or -1.
func (h hostCPU) busyPct() float64 {
	if h.total <= 0 {
		return -1
	}
	return 100 * float64(h.busy) / float64(h.total)
}

// loadAvg returns the first three fields of /proc/loadavg.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}
