package runtime

import (
	"encoding/base64"
	"fmt"
	"strings"
	"testing"

	"github.com/causeway-ai/causeway/internal/llm"
	wire "github.com/causeway-ai/causeway/internal/schema/responses"
)

// turnItems builds a context from a compact notation: "u" a user
// message, "a" an assistant message, "cN" a function call with call id N,
// "oN" its output, "r" a reasoning item, "s" a system message.
func turnItems(spec string) []wire.Item {
	var out []wire.Item
	for i, tok := range strings.Fields(spec) {
		id := fmt.Sprintf("it%d", i)
		switch tok[0] {
		case 'u':
			out = append(out, wire.Item{ID: id, Type: "message", Role: "user", Content: []byte(`"q"`)})
		case 'a':
			out = append(out, wire.Item{ID: id, Type: "message", Role: "assistant", Content: []byte(`"a"`)})
		case 's':
			out = append(out, wire.Item{ID: id, Type: "message", Role: "system", Content: []byte(`"s"`)})
		case 'c':
			out = append(out, wire.Item{ID: id, Type: "function_call", CallID: tok[1:], Name: "f", Arguments: str("{}")})
		case 'o':
			out = append(out, wire.Item{ID: id, Type: "function_call_output", CallID: tok[1:], Output: []byte(`"out"`)})
		case 'r':
			out = append(out, wire.Item{ID: id, Type: "reasoning"})
		}
	}
	return out
}

func TestKeepFrom(t *testing.T) {
	cases := []struct {
		name string
		spec string
		keep int
		want int
	}{
		{"too few turns", "u a u a", 2, 0},
		{"exactly keep turns", "u a u a", 2, 0},
		{"one turn summarised", "u a u a u a", 2, 2},
		{"keep one", "u a u a u a", 1, 4},
		{"zero means one", "u a u a u a", 0, 4},
		{"system before first turn only", "s u a u a", 2, 0},
		{"reasoning stays with its turn", "u r a u r c1 o1 a u a", 2, 3},
		// The call in turn 2 is answered after the user message of turn
		// 3: the split moves back to turn 2, keeping call and output.
		{"call answered in a later turn", "u a u c1 u o1 a u a", 2, 2},
		// Moving back reaches the first turn: nothing to summarise.
		{"call answered late from the first turn", "u c1 u o1 a u a", 2, 0},
		{"pairs within turns", "u c1 o1 a u c2 o2 a u a", 2, 4},
		// A call not answered yet (waiting for approval) stays in the
		// kept part, so its answer still finds it.
		{"unanswered call", "u a u c1 u a u a", 2, 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			items := turnItems(c.spec)
			got := keepFrom(items, c.keep)
			if got != c.want {
				t.Fatalf("keepFrom(%q, %d) = %d, want %d", c.spec, c.keep, got, c.want)
			}
			if got == 0 {
				return
			}
			// Whatever the split, no call is separated from its output
			// and the kept part starts with a user message.
			if items[got].Role != "user" {
				t.Errorf("kept part starts with %s %s, want a user message", items[got].Type, items[got].Role)
			}
			if c.name == "unanswered call" {
				return
			}
			if err := checkToolPairs(items[got:], nil); err != nil {
				t.Errorf("kept part %q: %v", c.spec, err)
			}
			if err := checkToolPairs(items[:got], nil); err != nil {
				t.Errorf("summarised part %q: %v", c.spec, err)
			}
		})
	}
}

func compactionItem(t *testing.T, c *compactionContent) wire.Item {
	t.Helper()
	enc, err := encodeCompaction(c)
	if err != nil {
		t.Fatal(err)
	}
	return wire.Item{ID: "cmp_1", Type: "compaction", EncryptedContent: enc}
}

func TestFromLatestCompaction(t *testing.T) {
	kept := turnItems("u a")
	kept[0].ID, kept[1].ID = "k0", "k1"
	old := compactionItem(t, &compactionContent{V: 1, Summary: "older", Kept: turnItems("u")})
	latest := compactionItem(t, &compactionContent{V: 1, Summary: "the gist", Kept: kept})
	latest.ID = "cmp_2"
	ctx := append(append([]wire.Item{old}, turnItems("u a u a")...), latest)
	ctx = append(ctx, wire.Item{ID: "after", Type: "message", Role: "assistant", Content: []byte(`"next"`)})

	got, err := fromLatestCompaction(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, it := range got {
		ids = append(ids, it.ID)
	}
	if want := "cmp_2 k0 k1 after"; strings.Join(ids, " ") != want {
		t.Fatalf("context = %v, want %s", ids, want)
	}
	msgs, err := ToMessages(got)
	if err != nil {
		t.Fatal(err)
	}
	if msgs[0].Role != llm.RoleSystem || msgs[0].Text() != CompactionMarker+"the gist" {
		t.Fatalf("first message = %s %q, want the summary as a system message", msgs[0].Role, msgs[0].Text())
	}
	if len(msgs) != 4 {
		t.Fatalf("got %d messages, want 4 (summary, kept user and assistant, the one after)", len(msgs))
	}
	// No compaction: unchanged.
	plain := turnItems("u a")
	if got, _ := fromLatestCompaction(plain); len(got) != 2 {
		t.Fatalf("without compaction: %d items, want 2", len(got))
	}
}

func TestMalformedCompaction(t *testing.T) {
	for name, content := range map[string]string{
		"empty":          "",
		"not base64":     "%%%",
		"not json":       base64.StdEncoding.EncodeToString([]byte("hello")),
		"other version":  base64.StdEncoding.EncodeToString([]byte(`{"v":2,"summary":"x"}`)),
		"nested in kept": base64.StdEncoding.EncodeToString([]byte(`{"v":1,"summary":"x","kept":[{"type":"compaction"}]}`)),
	} {
		it := wire.Item{ID: "cmp_x", Type: "compaction", EncryptedContent: content}
		_, err := ToMessages([]wire.Item{it})
		e := llm.AsError(err)
		if err == nil || e.Kind != llm.KindInvalid || e.Code != "invalid_encrypted_content" {
			t.Errorf("%s: ToMessages error = %v, want a 400 invalid_encrypted_content", name, err)
		}
		if _, err := fromLatestCompaction([]wire.Item{it}); llm.AsError(err).Kind != llm.KindInvalid {
			t.Errorf("%s: fromLatestCompaction error = %v, want a 400", name, err)
		}
	}
}

func TestCompactRequested(t *testing.T) {
	n := int64(500)
	zero := int64(0)
	cases := []struct {
		name      string
		cm        []wire.ContextManagement
		threshold int64
		ok        bool
		invalid   bool
	}{
		{"none", nil, 0, false, false},
		{"default threshold", []wire.ContextManagement{{Type: "compaction"}}, 1000, true, false},
		{"own threshold", []wire.ContextManagement{{Type: "compaction", CompactThreshold: &n}}, 500, true, false},
		{"zero threshold", []wire.ContextManagement{{Type: "compaction", CompactThreshold: &zero}}, 0, false, true},
		{"unknown type", []wire.ContextManagement{{Type: "forget"}}, 0, false, true},
		{"twice", []wire.ContextManagement{{Type: "compaction"}, {Type: "compaction"}}, 0, false, true},
	}
	for _, c := range cases {
		cp := &CreateParams{Req: &wire.CreateRequest{ContextManagement: c.cm}}
		th, ok, err := compactRequested(cp, 1000)
		if (err != nil) != c.invalid || (err != nil && llm.AsError(err).Kind != llm.KindInvalid) {
			t.Errorf("%s: error %v, want invalid=%v", c.name, err, c.invalid)
			continue
		}
		if th != c.threshold || ok != c.ok {
			t.Errorf("%s: (%d, %v), want (%d, %v)", c.name, th, ok, c.threshold, c.ok)
		}
	}
}

func TestTranscript(t *testing.T) {
	msgs, err := ToMessages(turnItems("u c1 o1 a"))
	if err != nil {
		t.Fatal(err)
	}
	got := transcript(msgs)
	for _, want := range []string{"user: q", "assistant called tool f with {}", "Tool result (f): out", "assistant: a"} {
		if !strings.Contains(got, want) {
			t.Errorf("transcript lacks %q:\n%s", want, got)
		}
	}
}
