// Command failover measures the latency clients of Causeway see while one
// of two targets fails (issue #4): the alias sim-ha of
// examples/routing.yaml (primary target, then a fallback) under a healthy
// simulator, then with the primary answering 503, stalling before its
// first byte, and answering 429 with Retry-After. The simulator and the
// gateway are separate processes on this machine; the load is an open
// loop. It prints a Markdown report and writes it to bench/out/. See
// bench/README.md.
//
//	go run ./bench/failover [-rate 200] [-duration 10s] [-warmup 1s] [-stall-first-token 500ms] [-only healthy,primary-503]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/causeway-ai/causeway/bench/internal/benchkit"
)

type options struct {
	rate            int
	duration        time.Duration
	warmup          time.Duration
	stallMS         int
	stallFirstToken time.Duration
	only            map[string]bool
	outDir          string
	keep            bool
	args            []string
}

func main() {
	fs := flag.NewFlagSet("failover", flag.ContinueOnError)
	var o options
	fs.IntVar(&o.rate, "rate", 200, "open-loop request `rate` per second")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "measured run `duration`, per scenario and mode")
	fs.DurationVar(&o.warmup, "warmup", time.Second, "healthy warm-up `duration` before each run, before any fault (not measured)")
	fs.IntVar(&o.stallMS, "stall-ms", 2000, "primary-stall: how long the primary stalls before its first byte, in `ms`")
	fs.DurationVar(&o.stallFirstToken, "stall-first-token", 500*time.Millisecond,
		"primary-stall: the providers' first_token timeout in the config copy used for that scenario (examples/routing.yaml has 10s)")
	only := fs.String("only", "", "comma-separated `scenarios` to run: "+strings.Join(scenarioNames(), ","))
	fs.StringVar(&o.outDir, "out", "", "`directory` for the report (default: bench/out in the module)")
	fs.BoolVar(&o.keep, "keep", false, "keep the temporary directory (binary, configs, process logs)")
	if err := fs.Parse(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		os.Exit(2)
	}
	o.args = os.Args[1:]
	o.only = map[string]bool{}
	for _, s := range scenarioNames() {
		o.only[s] = *only == ""
	}
	if *only != "" {
		for s := range strings.SplitSeq(*only, ",") {
			s = strings.TrimSpace(s)
			if _, ok := o.only[s]; !ok {
				fmt.Fprintf(os.Stderr, "failover: unknown scenario %q in -only (want %s)\n", s, strings.Join(scenarioNames(), ","))
				os.Exit(2)
			}
			o.only[s] = true
		}
	}
	if o.rate <= 0 || o.duration <= 0 || o.warmup < 0 || o.stallMS <= 0 || o.stallFirstToken <= 0 {
		fmt.Fprintln(os.Stderr, "failover: -rate, -duration, -stall-ms and -stall-first-token must be positive")
		os.Exit(2)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, &o)
	stop()
	benchkit.KillAll() // whatever happened, no process outlives the benchmark
	if err != nil {
		fmt.Fprintln(os.Stderr, "failover:", err)
		os.Exit(1)
	}
}
