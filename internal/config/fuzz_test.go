package config

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse feeds arbitrary bytes to Parse. It must never panic, and a
// configuration it accepts must validate and be usable.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.yaml"))
	for _, name := range files {
		if b, err := os.ReadFile(name); err == nil {
			f.Add(b)
		}
	}
	for _, s := range []string{
		"",
		"listen: ${A}\n",
		"listen: ${A:-:8080}\nadmin_key: $${X}\n",
		"providers:\n  - {name: p, type: openai, base_url: \"http://h\"}\nmodels:\n  - {alias: a, targets: [{provider: p, model: m}]}\n",
		"metering: {flush_interval: 5s, drain_timeout: 0}\n",
		"a: &x 1\nb: *x\n",
		"listen: !!binary aGVsbG8=\n",
		"log:\n  - 1\n",
		"prices:\n  m: {input_per_mtok: 1e400}\n",
	} {
		f.Add([]byte(s))
	}
	getenv := env("A", ":9000", "B", "b")
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data, getenv)
		if err != nil {
			_ = err.Error()
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("Parse accepted a config that does not validate: %v", err)
		}
		for _, m := range c.Models {
			if got, ok := c.Alias(m.Alias); !ok || got.Alias != m.Alias {
				t.Fatalf("Alias(%q) = %v, %v", m.Alias, got, ok)
			}
		}
		_ = c.Warnings()
	})
}
