package memory

import (
	"fmt"
	"math"
	"testing"
)

func TestFuse(t *testing.T) {
	got := fuse(10, []string{"a", "b", "c"}, []string{"c", "d"})
	// c: 1/63 + 1/61; a: 1/61; b: 1/62; d: 1/62, after b (b's ranking
	// came first).
	want := []string{"c", "a", "b", "d"}
	if fmt.Sprint(ids(got)) != fmt.Sprint(want) {
		t.Errorf("fuse = %v, want %v", ids(got), want)
	}
	if math.Abs(got[0].score-(1.0/63+1.0/61)) > 1e-12 {
		t.Errorf("score of c = %v, want 1/63 + 1/61", got[0].score)
	}
	if got := fuse(2, []string{"a", "b", "c"}, nil); fmt.Sprint(ids(got)) != "[a b]" {
		t.Errorf("fuse limit 2 = %v, want [a b]", ids(got))
	}
	if c := cosine([]float32{1, 0}, []float32{0, 0}); c != 0 {
		t.Errorf("cosine with a zero vector = %v, want 0", c)
	}
	if c := cosine([]float32{3, 4}, []float32{6, 8}); math.Abs(c-1) > 1e-9 {
		t.Errorf("cosine of parallel vectors = %v, want 1", c)
	}
}

func ids(s []scored) []string {
	out := make([]string, len(s))
	for i, x := range s {
		out[i] = x.id
	}
	return out
}
