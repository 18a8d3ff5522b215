package config

// Defaults of the compaction section, applied by its accessors when a
// field is absent (zero).
const (
	DefaultCompactThreshold   = 100_000
	DefaultKeepRecentTurns    = 2
	DefaultMaxSummaryTokens   = 2048
	maxCompactKeepRecentTurns = 100
)

// Compaction configures how the Responses runtime summarises the old
// turns of a long context into one compaction item: when a request asks
// for it with context_management, when a client calls
// POST /v1/responses/compact, and, once this section is present, before
// truncation "auto" drops turns. Without the section, compaction still
// works for requests that ask for it, with the defaults below and the
// request's own model.
type Compaction struct {
	// Model is the model alias that writes the summaries, on any
	// provider; the caller's key must be allowed to use it, and its calls
	// are metered to the caller. When absent, the request's own model
	// summarises.
	Model string `yaml:"model"`
	// DefaultThreshold is the estimated input size, in tokens, above
	// which a request's context is compacted when its context_management
	// entry gives no compact_threshold. The default is 100000.
	DefaultThreshold int64 `yaml:"default_threshold"`
	// KeepRecentTurns is how many of the most recent user turns (a user
	// message and everything after it up to the next one) are kept
	// verbatim; everything before them is summarised. At least 1, at most
	// 100; the default is 2.
	KeepRecentTurns int `yaml:"keep_recent_turns"`
	// MaxSummaryTokens caps the length of a summary, in output tokens of
	// the summarising model. The default is 2048.
	MaxSummaryTokens int `yaml:"max_summary_tokens"`
}

// Threshold returns DefaultThreshold or its default.
func (c *Compaction) Threshold() int64 {
	if c == nil || c.DefaultThreshold <= 0 {
		return DefaultCompactThreshold
	}
	return c.DefaultThreshold
}

// KeepTurns returns KeepRecentTurns or its default.
func (c *Compaction) KeepTurns() int {
	if c == nil || c.KeepRecentTurns <= 0 {
		return DefaultKeepRecentTurns
	}
	return c.KeepRecentTurns
}

// SummaryTokens returns MaxSummaryTokens or its default.
func (c *Compaction) SummaryTokens() int {
	if c == nil || c.MaxSummaryTokens <= 0 {
		return DefaultMaxSummaryTokens
	}
	return c.MaxSummaryTokens
}

// validate checks the section against the rest of the configuration.
func (c *Compaction) validate(cfg *Config, v *validator) {
	if c == nil {
		return
	}
	if c.Model != "" {
		if _, ok := cfg.Alias(c.Model); !ok {
			v.addf("compaction.model", "%q is not the alias of a model", c.Model)
		}
	}
	if c.DefaultThreshold < 0 {
		v.addf("compaction.default_threshold", "must not be negative, got %d", c.DefaultThreshold)
	}
	if c.KeepRecentTurns < 0 || c.KeepRecentTurns > maxCompactKeepRecentTurns {
		v.addf("compaction.keep_recent_turns", "must be between 1 and %d, got %d", maxCompactKeepRecentTurns, c.KeepRecentTurns)
	}
	if c.MaxSummaryTokens < 0 {
		v.addf("compaction.max_summary_tokens", "must not be negative, got %d", c.MaxSummaryTokens)
	}
}
