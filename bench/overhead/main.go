// Command overhead measures Causeway's gateway overhead (DESIGN.md §6):
// the same load sent straight to `causeway sim`, through a bare
// pass-through proxy (the floor), and through `causeway serve` with keys,
// budgets and metering on, on SQLite and on PostgreSQL, each a separate
// process on this machine. It prints a Markdown report and writes it to
// bench/out/. See bench/README.md.
//
// With -protocols it measures instead, through one gateway on
// examples/sim.yaml, the streaming overhead of each upstream protocol
// (OpenAI, Azure, Anthropic, Bedrock, Gemini) against the OpenAI one.
//
//	go run ./bench/overhead -protocols [-rate 300] [-duration 8s] [-peak-duration 6s]
//	go run ./bench/overhead [-rate 500] [-duration 10s] [-peak-duration 8s] [-workers 64] [-streams 200] [-only floor,gateway-sqlite]
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

// Target names, in the order they are measured.
const (
	tDirect   = "direct"
	tFloor    = "floor"
	tSQLite   = "gateway-sqlite"
	tPostgres = "gateway-postgres"
)

var allTargets = []string{tDirect, tFloor, tSQLite, tPostgres}

type options struct {
	rate         int
	duration     time.Duration
	peakDuration time.Duration
	warmup       time.Duration
	workers      int
	rounds       int
	streams      int
	only         map[string]bool
	pgAdmin      string
	outDir       string
	keep         bool
	protocols    bool
	args         []string
}

// hidden flags are those of the floor proxy mode, not for people.
var hidden = map[string]bool{"floor-proxy": true, "listen": true, "upstream": true}

func main() {
	fs := flag.NewFlagSet("overhead", flag.ContinueOnError)
	var o options
	fs.IntVar(&o.rate, "rate", 500, "open-loop request `rate` per second")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "open-loop run `duration`, per target and mode")
	fs.DurationVar(&o.peakDuration, "peak-duration", 8*time.Second, "closed-loop (peak) run `duration`, per target and mode")
	fs.DurationVar(&o.warmup, "warmup", time.Second, "warm-up `duration` before each target's runs (not measured)")
	fs.IntVar(&o.workers, "workers", 64, "concurrent `workers` in the closed-loop run")
	fs.IntVar(&o.rounds, "rounds", 5, "`rounds` each run is cut into, visiting the targets in turn (interleaving spreads machine noise over all targets)")
	fs.IntVar(&o.streams, "streams", 200, "`number` of streams held open at once for the memory measurement (0 = skip)")
	only := fs.String("only", "", "comma-separated `targets` to measure: "+strings.Join(allTargets, ","))
	fs.StringVar(&o.pgAdmin, "pg", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable",
		"PostgreSQL `URL` used to create and drop the gateway's fresh database")
	fs.StringVar(&o.outDir, "out", "", "`directory` for the report (default: bench/out in the module)")
	fs.BoolVar(&o.keep, "keep", false, "keep the temporary directory (binary, configs, process logs)")
	fs.BoolVar(&o.protocols, "protocols", false, fmt.Sprintf("measure only the streaming overhead per upstream protocol: one gateway on examples/sim.yaml, "+
		"aliases %s; -rate, -duration and -peak-duration default to %d, %s and %s here; -only, -streams and -pg do not apply",
		strings.Join(protocolNames(), ","), protocolsRate, protocolsDuration, protocolsPeakDuration))
	floorMode := fs.Bool("floor-proxy", false, "")
	listen := fs.String("listen", "", "")
	upstream := fs.String("upstream", "", "")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: go run ./bench/overhead [flags]\n\n")
		fs.VisitAll(func(f *flag.Flag) {
			if hidden[f.Name] {
				return
			}
			name, usage := flag.UnquoteUsage(f)
			fmt.Fprintf(fs.Output(), "  -%s %s\n    \t%s", f.Name, name, usage)
			if f.DefValue != "" && f.DefValue != "false" {
				fmt.Fprintf(fs.Output(), " (default %s)", f.DefValue)
			}
			fmt.Fprintln(fs.Output())
		})
	}
	if err := fs.Parse(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		os.Exit(2)
	}
	if *floorMode {
		if err := runFloor(*listen, *upstream); err != nil {
			fmt.Fprintln(os.Stderr, "floor:", err)
			os.Exit(1)
		}
		return
	}
	o.args = os.Args[1:]
	if o.protocols {
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		if !set["rate"] {
			o.rate = protocolsRate
		}
		if !set["duration"] {
			o.duration = protocolsDuration
		}
		if !set["peak-duration"] {
			o.peakDuration = protocolsPeakDuration
		}
	}
	o.only = map[string]bool{}
	if *only == "" {
		for _, t := range allTargets {
			o.only[t] = true
		}
	} else {
		for t := range strings.SplitSeq(*only, ",") {
			t = strings.TrimSpace(t)
			if !contains(allTargets, t) {
				fmt.Fprintf(os.Stderr, "overhead: unknown target %q in -only (want %s)\n", t, strings.Join(allTargets, ","))
				os.Exit(2)
			}
			o.only[t] = true
		}
	}
	if o.rate <= 0 || o.workers <= 0 || o.rounds <= 0 || o.duration <= 0 || o.peakDuration <= 0 || o.streams < 0 || o.warmup < 0 {
		fmt.Fprintln(os.Stderr, "overhead: -rate, -workers, -rounds, -duration and -peak-duration must be positive")
		os.Exit(2)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	run := run
	if o.protocols {
		run = runProtocols
	}
	err := run(ctx, &o)
	stop()
	benchkit.KillAll() // whatever happened, no process outlives the benchmark
	if err != nil {
		fmt.Fprintln(os.Stderr, "overhead:", err)
		os.Exit(1)
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
