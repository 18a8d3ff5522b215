package sim

import (
	"math"
	"slices"
	"testing"
)

func dot(a, b []float32) float64 {
	var s float64
	for i := range a {
		s += float64(a[i]) * float64(b[i])
	}
	return s
}

// TestEmbedSimilarity: the simulator's embeddings are unit vectors, the
// same for the same text, and closer for texts that share words than for
// texts that share none.
func TestEmbedSimilarity(t *testing.T) {
	vec := func(s string) []float32 {
		v := make([]float32, 256)
		embed(s, v)
		return v
	}
	for _, s := range []string{"", "!!", "My sister lives in Lisbon.", "a"} {
		v := vec(s)
		if n := math.Sqrt(dot(v, v)); math.Abs(n-1) > 1e-5 {
			t.Errorf("|embed(%q)| = %v, want 1", s, n)
		}
		if !slices.Equal(v, vec(s)) {
			t.Errorf("embed(%q) differs between calls", s)
		}
	}
	q := vec("Where does my sister live?")
	near := dot(q, vec("My sister lives in Lisbon with her two cats."))
	far := dot(q, vec("The quarterly budget review is on Thursday."))
	if near <= far+0.1 {
		t.Errorf("cos(question, related) = %.3f, cos(question, unrelated) = %.3f; want related clearly closer", near, far)
	}
	// Case and punctuation do not matter; word order does not either.
	if a, b := vec("Sister, Lisbon!"), vec("lisbon sister"); dot(a, b) < 0.999 {
		t.Errorf("cos(%q, %q) = %.4f, want 1", "Sister, Lisbon!", "lisbon sister", dot(a, b))
	}
	// Shared trigrams make inflections close.
	if c := dot(vec("gardening"), vec("garden")); c < 0.3 {
		t.Errorf("cos(gardening, garden) = %.3f, want > 0.3", c)
	}
}
