package benchkit

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Quantile returns the q-quantile of sorted (nearest rank); 0 when empty.
func Quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.5) - 1
	i = max(0, min(i, len(sorted)-1))
	return sorted[i]
}

// SortedErrs lists errors by count, most frequent first, as "N× " followed
// by the message passed through quote (nil: as it is).
func SortedErrs(m map[string]int, quote func(string) string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if m[keys[i]] != m[keys[j]] {
			return m[keys[i]] > m[keys[j]]
		}
		return keys[i] < keys[j]
	})
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		msg := k
		if quote != nil {
			msg = quote(k)
		}
		out = append(out, strconv.Itoa(m[k])+"× "+msg)
	}
	return out
}

// MS formats a duration in milliseconds with two decimals.
func MS(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }

// CommandLine is the command that produced a report: go run ./bench/<prog>
// with args, quoted where a shell would need it.
func CommandLine(prog string, args []string) string {
	parts := []string{"go", "run", "./bench/" + prog}
	for _, a := range args {
		if a == "" || strings.ContainsAny(a, " \t'\"$\\*?;&|<>()") {
			a = strconv.Quote(a)
		}
		parts = append(parts, a)
	}
	return strings.Join(parts, " ")
}

// Nproc is the output of nproc, or the Go runtime's CPU count.
func Nproc() string {
	if out, err := exec.Command("nproc").Output(); err == nil {
		return strings.TrimSpace(string(out))
	}
	return strconv.Itoa(runtime.NumCPU())
}

// CPUModel is the first "model name" of /proc/cpuinfo, or "".
func CPUModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// Revision is the checkout's short commit, with "+ uncommitted changes"
// when the work tree is dirty.
func Revision(root string) string {
	out, err := exec.Command("git", "-C", root, "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return "unknown"
	}
	rev := strings.TrimSpace(string(out))
	if st, err := exec.Command("git", "-C", root, "status", "--porcelain").Output(); err == nil && len(strings.TrimSpace(string(st))) > 0 {
		rev += " + uncommitted changes"
	}
	return rev
}

// WriteReport writes report to outDir (bench/out under root if empty) as
// <name>-<started as 20060102-150405>.md and logs the path.
func WriteReport(root, outDir, name string, started time.Time, report string) error {
	if outDir == "" {
		outDir = filepath.Join(root, "bench", "out")
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return err
	}
	path := filepath.Join(outDir, name+"-"+started.Format("20060102-150405")+".md")
	if err := os.WriteFile(path, []byte(report), 0o644); err != nil {
		return err
	}
	Logf("report written to %s", path)
	return nil
}
