package tokens

import (
	"strings"
	"testing"

	"github.com/causeway-ai/causeway/internal/llm"
)

// TestCountTokensLinear counts pathological texts (BPE is quadratic in
// unbroken runs) and checks the pieces cover the text exactly; it asserts
// no duration: a quadratic count would make it time out.
func TestCountTokensLinear(t *testing.T) {
	for _, s := range []string{strings.Repeat("a", 1<<20), strings.Repeat(" ", 1<<20), strings.Repeat("ü", 1<<18), strings.Repeat("word ", 1<<18)} {
		var b strings.Builder
		for rest := s; rest != ""; {
			var p string
			p, rest = nextPiece(rest)
			if p == "" || len(p) > maxPiece {
				t.Fatalf("piece of %d bytes", len(p))
			}
			b.WriteString(p)
		}
		if b.String() != s {
			t.Fatal("pieces do not cover the text")
		}
		n, err := Count(&llm.Request{Messages: []llm.Message{llm.TextMessage(llm.RoleUser, s)}})
		if err != nil || n < 1 {
			t.Fatalf("count = %d, %v", n, err)
		}
	}
}
