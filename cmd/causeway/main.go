// Command causeway is the Causeway AI access layer: one binary that serves
// the gateway, runs the upstream simulator, and manages keys and config.
package main

import (
	"fmt"
	"os"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

const usage = `causeway — the open AI access layer

Usage:
  causeway <command> [flags]

Commands:
  demo           run the gateway and a simulator together, with a demo key (no account, no network)
  serve          run the gateway
  sim            run the upstream simulator
  keys           create, list and revoke virtual keys
  config check   validate a configuration file
  version        print the version

Benchmarks: go run ./bench/overhead (see bench/README.md).

Run "causeway <command> --help" for a command's flags.
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	cmd, args := os.Args[1], os.Args[2:]
	var err error
	switch cmd {
	case "serve":
		err = runServe(args)
	case "demo":
		err = runDemo(args)
	case "sim":
		err = runSim(args)
	case "keys":
		err = runKeys(args)
	case "config":
		err = runConfig(args)
	case "version", "--version", "-v":
		fmt.Println("causeway", version)
	case "help", "--help", "-h":
		fmt.Print(usage)
	default:
		fmt.Fprintf(os.Stderr, "causeway: unknown command %q\n\n%s", cmd, usage)
		os.Exit(2)
	}
	if err != nil {
		if err == errUsage {
			os.Exit(2)
		}
		fmt.Fprintln(os.Stderr, "causeway:", err)
		os.Exit(1)
	}
}
