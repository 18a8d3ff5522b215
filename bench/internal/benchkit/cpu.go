package benchkit

import (
	"bytes"
	"errors"
	"os"
	"strconv"
	"strings"
)

// ClkTck is sysconf(_SC_CLK_TCK) on Linux: /proc/<pid>/stat counts CPU
// time in these ticks per second.
const ClkTck = 100

// CPUTicks returns utime+stime of pid, in clock ticks.
func CPUTicks(pid int) (int64, error) {
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

// RSSKB returns VmRSS of pid in KiB.
func RSSKB(pid int) (int64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			return strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		}
	}
	return 0, errors.New("no VmRSS")
}

// HostCPU is the machine-wide CPU time from the first line of /proc/stat,
// in clock ticks.
type HostCPU struct {
	Busy  int64 // user, nice, system, irq, softirq
	Steal int64 // taken by the hypervisor for other guests
	Total int64 // everything, idle and iowait included
}

// ReadHostCPU reads the machine-wide CPU counters.
func ReadHostCPU() (HostCPU, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return HostCPU{}, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return HostCPU{}, errors.New("malformed /proc/stat")
	}
	var v [8]int64 // user nice system idle iowait irq softirq steal
	for i := range v {
		if v[i], err = strconv.ParseInt(f[i+1], 10, 64); err != nil {
			return HostCPU{}, err
		}
	}
	h := HostCPU{Busy: v[0] + v[1] + v[2] + v[5] + v[6], Steal: v[7]}
	for _, x := range v {
		h.Total += x
	}
	return h, nil
}

// Sub returns h - o, the CPU time between two readings.
func (h HostCPU) Sub(o HostCPU) HostCPU {
	return HostCPU{Busy: h.Busy - o.Busy, Steal: h.Steal - o.Steal, Total: h.Total - o.Total}
}

// Add returns h + o, to sum intervals.
func (h HostCPU) Add(o HostCPU) HostCPU {
	return HostCPU{Busy: h.Busy + o.Busy, Steal: h.Steal + o.Steal, Total: h.Total + o.Total}
}

// BusyPct is the share of the machine's CPU time that was busy, or -1.
func (h HostCPU) BusyPct() float64 {
	if h.Total <= 0 {
		return -1
	}
	return 100 * float64(h.Busy) / float64(h.Total)
}

// LoadAvg returns the first three fields of /proc/loadavg.
func LoadAvg() string {
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
