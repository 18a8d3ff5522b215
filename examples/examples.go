// Package examples embeds the example configurations, so that `causeway
// demo` runs the very file the documentation shows and tests can run
// every example as written.
package examples

import "embed"

// FS holds every example configuration file.
//
//go:embed *.yaml
var FS embed.FS

// Sim returns examples/sim.yaml.
func Sim() []byte {
	b, err := FS.ReadFile("sim.yaml")
	if err != nil {
		panic("examples: sim.yaml missing: " + err.Error())
	}
	return b
}

// Routing returns examples/routing.yaml.
func Routing() []byte {
	b, err := FS.ReadFile("routing.yaml")
	if err != nil {
		panic("examples: routing.yaml missing: " + err.Error())
	}
	return b
}
