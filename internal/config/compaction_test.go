package config

import (
	"strings"
	"testing"
)

const compactionBase = "providers:\n  - name: p\n    type: openai\n    base_url: http://localhost:1\n" +
	"models:\n  - alias: small\n    targets: [{provider: p, model: m}]\n"

func TestCompaction(t *testing.T) {
	c, err := Parse([]byte(compactionBase), env())
	if err != nil {
		t.Fatal(err)
	}
	if c.Compaction != nil {
		t.Fatalf("no section: Compaction = %+v, want nil", c.Compaction)
	}
	if c.Compaction.Threshold() != DefaultCompactThreshold || c.Compaction.KeepTurns() != DefaultKeepRecentTurns || c.Compaction.SummaryTokens() != DefaultMaxSummaryTokens {
		t.Fatalf("nil section: defaults not applied")
	}

	c, err = Parse([]byte(compactionBase+"compaction: {model: small, default_threshold: 5000, keep_recent_turns: 3, max_summary_tokens: 300}\n"), env())
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Compaction; got.Model != "small" || got.Threshold() != 5000 || got.KeepTurns() != 3 || got.SummaryTokens() != 300 {
		t.Fatalf("compaction = %+v", got)
	}

	c, err = Parse([]byte(compactionBase+"compaction: {}\n"), env())
	if err != nil || c.Compaction == nil || c.Compaction.KeepTurns() != DefaultKeepRecentTurns {
		t.Fatalf("empty section: %v %+v, want present with defaults", err, c)
	}

	for name, tc := range map[string]struct{ doc, want string }{
		"unknown alias":  {"compaction: {model: huge}\n", `compaction.model: "huge" is not the alias of a model`},
		"negative keep":  {"compaction: {keep_recent_turns: -1}\n", "compaction.keep_recent_turns: must be between 1 and 100"},
		"too many kept":  {"compaction: {keep_recent_turns: 101}\n", "compaction.keep_recent_turns: must be between 1 and 100"},
		"negative limit": {"compaction: {default_threshold: -5, max_summary_tokens: -1}\n", "compaction.max_summary_tokens: must not be negative"},
		"unknown key":    {"compaction: {modle: small}\n", "modle"},
	} {
		_, err := Parse([]byte(compactionBase+tc.doc), env())
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want it to contain %q", name, err, tc.want)
		}
	}
}
