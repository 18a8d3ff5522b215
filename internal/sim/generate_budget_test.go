package sim

import (
	"encoding/json"
	"testing"
)

// A self-referencing schema that multiplies at every level must still
// generate a bounded, valid document.
func TestGenerateJSONRecursiveSchemaIsBounded(t *testing.T) {
	root := parseSchema(json.RawMessage(`{"type":"array","minItems":16,"items":{"$ref":"#"}}`))
	out := generateJSON(root, &rng{s: 1})
	if !json.Valid([]byte(out)) {
		t.Fatalf("invalid JSON: %.200s", out)
	}
	if len(out) > 1<<20 {
		t.Fatalf("generated %d bytes, want a bounded document", len(out))
	}
}
