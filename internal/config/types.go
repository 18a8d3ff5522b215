package config

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/goccy/go-yaml/ast"

	"github.com/causeway-ai/causeway/internal/billing"
)

// Duration is a time.Duration written in YAML as a string with a unit,
// such as "250ms", "5s" or "1m30s".
type Duration time.Duration

// Std returns d as a time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }

// String formats d like time.Duration.
func (d Duration) String() string { return time.Duration(d).String() }

// UnmarshalYAML decodes a duration from a YAML scalar. go-yaml prefers
// this form to UnmarshalText because the node carries the position the
// error should point at. A null leaves d unchanged.
func (d *Duration) UnmarshalYAML(node ast.Node) error {
	var text string
	switch n := node.(type) {
	case *ast.NullNode:
		return nil
	case *ast.TagNode: // !!str "5s"
		return d.UnmarshalYAML(n.Value)
	case *ast.StringNode:
		text = n.Value
	case *ast.IntegerNode, *ast.FloatNode:
		text = n.GetToken().Value
	default:
		return durationError(node, fmt.Sprintf("want a duration such as \"5s\", got %s", node.Type().YAMLName()))
	}
	v, err := time.ParseDuration(text)
	if err != nil {
		return durationError(node, fmt.Sprintf("invalid duration %q: want a number with a unit, such as \"250ms\", \"5s\" or \"10m\"", text))
	}
	*d = Duration(v)
	return nil
}

func durationError(node ast.Node, msg string) error {
	tok := node.GetToken()
	if tok == nil {
		return fmt.Errorf("%s", msg)
	}
	return &PositionError{Line: tok.Position.Line, Column: tok.Position.Column, Msg: msg}
}

// UnmarshalText decodes a duration such as "5s", for decoders other than
// go-yaml (JSON, flags).
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// MarshalText encodes d as a string such as "5s".
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// Secret is a configuration value that must never be printed: it
// redacts itself in fmt (%v, %s, %q, %#v), in slog, and when marshalled
// to JSON or YAML. Reveal returns the value for the one place that
// needs it.
type Secret string

const redacted = "[redacted]"

// Reveal returns the secret's value.
func (s Secret) Reveal() string { return string(s) }

// String returns "[redacted]".
func (Secret) String() string { return redacted }

// GoString returns a redacted Go literal, for %#v.
func (Secret) GoString() string { return `config.Secret("` + redacted + `")` }

// LogValue returns "[redacted]".
func (Secret) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalText returns "[redacted]", so a Secret nested in a struct is
// redacted by encoding/json and by slog's JSON handler too.
func (Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// PriceUSD is a price in US dollars per million tokens.
type PriceUSD struct {
	// Input is the price of one million uncached input tokens.
	Input float64 `yaml:"input_per_mtok"`
	// Output is the price of one million output tokens, reasoning
	// tokens included.
	Output float64 `yaml:"output_per_mtok"`
	// CachedInput is the price of one million input tokens read from a
	// prompt cache. When absent or 0, Input applies.
	CachedInput float64 `yaml:"cached_input_per_mtok"`
	// CacheWrite is the price of one million tokens written to a prompt
	// cache (billed by Anthropic and Bedrock). When absent or 0, Input
	// applies.
	CacheWrite float64 `yaml:"cache_write_per_mtok"`
}

// Price converts p to exact nano-USD.
func (p PriceUSD) Price() billing.Price {
	return billing.PriceFromUSD(p.Input, p.Output, p.CachedInput, p.CacheWrite)
}
