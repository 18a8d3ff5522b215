package sim

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	oai "github.com/causeway-ai/causeway/internal/schema/openai"
)

func TestCountWords(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int
	}{
		{"", 0},
		{"   ", 0},
		{"one", 1},
		{"Hello there, simulator", 3},
		{"  leading and trailing  ", 3},
		{"tabs\tand\nnew\r\nlines\v\fend", 5},
		{`{"a": 1, "b": [2, 3]}`, 5},
		{"héllo wörld", 2},
		{"no\u00a0break", 1}, // only ASCII whitespace separates
	} {
		if got := countWords(tc.in); got != tc.want {
			t.Errorf("countWords(%q) = %d, want %d", tc.in, got, tc.want)
		}
	}
}

// TestPromptTokens pins the chat prompt-token rule: Σ over messages of
// 4 + the words of its text, refusal and tool calls' names and arguments.
func TestPromptTokens(t *testing.T) {
	for _, tc := range []struct {
		name, messages string
		want           int
	}{
		{"one word", `[{"role":"user","content":"hi"}]`, 4 + 1},
		{"empty content", `[{"role":"user","content":""}]`, 4},
		{"null content", `[{"role":"assistant","content":null,"refusal":"I can't"}]`, 4 + 2},
		{"system and user", `[{"role":"system","content":"Be brief."},{"role":"user","content":"What is Go?"}]`, 4 + 2 + 4 + 3},
		{"escaped string", `[{"role":"user","content":"say \"hi\"\nthen stop"}]`, 4 + 4},
		{"parts", `[{"role":"user","content":[{"type":"text","text":"look at"},{"type":"image_url","image_url":{"url":"https://x/y.png"}},{"type":"text","text":"this"}]}]`, 4 + 3},
		{"tool call and result", `[{"role":"user","content":"weather?"},` +
			`{"role":"assistant","tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\": \"Paris\"}"}}]},` +
			`{"role":"tool","tool_call_id":"call_1","content":"sunny and warm"}]`, (4 + 1) + (4 + 1 + 2) + (4 + 3)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var req oai.ChatRequest
			if err := json.Unmarshal([]byte(`{"model":"m","messages":`+tc.messages+`}`), &req); err != nil {
				t.Fatal(err)
			}
			var p prompt
			if e := openAIPrompt(&req, &p); e != nil {
				t.Fatal(e.msg)
			}
			if p.inputTokens != tc.want {
				t.Errorf("prompt tokens = %d, want %d", p.inputTokens, tc.want)
			}
		})
	}
}

func TestSeedIgnoresFormattingAndCaps(t *testing.T) {
	seed := func(body string) uint64 {
		t.Helper()
		var req oai.ChatRequest
		if err := json.Unmarshal([]byte(body), &req); err != nil {
			t.Fatal(err)
		}
		var p prompt
		if e := openAIPrompt(&req, &p); e != nil {
			t.Fatal(e.msg)
		}
		return p.seed
	}
	a := seed(`{"model":"m","messages":[{"role":"user","content":"hi"}]}`)
	b := seed(`{ "messages" : [ { "content" : "hi", "role" : "user" } ], "model" : "m", "max_tokens": 3, "stop": "x", "temperature": 0.2 }`)
	c := seed(`{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"hi"}]}]}`)
	d := seed(`{"model":"n","messages":[{"role":"user","content":"hi"}]}`)
	e := seed(`{"model":"m","seed":7,"messages":[{"role":"user","content":"hi"}]}`)
	if a != b {
		t.Error("formatting, max_tokens or stop changed the seed")
	}
	if a == c || a == d || a == e {
		t.Error("content form, model or seed parameter did not change the seed")
	}
}

func TestSplitters(t *testing.T) {
	for _, s := range []string{
		"", "x", "The tool returned: 21 degrees.", "  two  spaces ", `{"a":"b c","n":-1.5e3,"l":[true,null]}`, `{"k": "é ü", "x":{}}`,
	} {
		for name, split := range map[string]func(string, []string) []string{"spaces": splitAtSpaces, "json": jsonFragments} {
			parts := split(s, nil)
			if got := strings.Join(parts, ""); got != s {
				t.Errorf("%s(%q) joined = %q", name, s, got)
			}
			if slices.Contains(parts, "") {
				t.Errorf("%s(%q) = %q has an empty token", name, s, parts)
			}
		}
	}
	if got, want := jsonFragments(`{"city":"New York","n":42}`, nil),
		[]string{`{"`, `city`, `":"`, `New`, ` York`, `","`, `n`, `":`, `42`, `}`}; !slices.Equal(got, want) {
		t.Errorf("jsonFragments = %q, want %q", got, want)
	}
	if got, want := splitAtSpaces("The tool returned: a  b.", nil), []string{"The", " tool", " returned:", " a", "  b."}; !slices.Equal(got, want) {
		t.Errorf("splitAtSpaces = %q, want %q", got, want)
	}
}

func TestCutAtStop(t *testing.T) {
	tokens := func() []string { return []string{"Hello", " big", " world", "."} }
	for _, tc := range []struct {
		stops []string
		want  []string
		found bool
	}{
		{[]string{"zzz"}, []string{"Hello", " big", " world", "."}, false},
		{[]string{" world"}, []string{"Hello", " big"}, true},
		{[]string{"orl", " big"}, []string{"Hello"}, true},
		{[]string{"rld."}, []string{"Hello", " big", " wo"}, true},
		{[]string{"Hello"}, []string{}, true},
		{[]string{"", "lo b"}, []string{"Hel"}, true},
	} {
		got, found := cutAtStop(tokens(), tc.stops)
		if !slices.Equal(got, tc.want) || found != tc.found {
			t.Errorf("cutAtStop(%q) = %q %v, want %q %v", tc.stops, got, found, tc.want, tc.found)
		}
	}
}

func TestGenerateJSON(t *testing.T) {
	for _, tc := range []struct {
		name, schema string
		check        func(v any) bool
	}{
		{"absent", ``, func(v any) bool { m, ok := v.(map[string]any); return ok && len(m) == 0 }},
		{"bool schema", `true`, func(v any) bool { _, ok := v.(string); return ok }},
		{"string", `{"type":"string","minLength":12}`, func(v any) bool { s, ok := v.(string); return ok && len(s) >= 12 }},
		{"nullable integer", `{"type":["null","integer"],"minimum":5,"maximum":5}`, func(v any) bool { return v == 5.0 }},
		{"number range", `{"type":"number","minimum":0.5,"maximum":0.75}`, func(v any) bool { f, ok := v.(float64); return ok && f >= 0.5 && f <= 0.75 }},
		{"enum", `{"enum":["a","b"]}`, func(v any) bool { return v == "a" }},
		{"const", `{"const":{"x": [1, 2]}}`, func(v any) bool { b, _ := json.Marshal(v); return string(b) == `{"x":[1,2]}` }},
		{"array min", `{"type":"array","items":{"type":"boolean"},"minItems":3}`, func(v any) bool { a, ok := v.([]any); return ok && len(a) == 3 }},
		{"tuple", `{"type":"array","prefixItems":[{"type":"integer"},{"type":"string"}]}`, func(v any) bool {
			a, ok := v.([]any)
			if !ok || len(a) != 2 {
				return false
			}
			_, n := a[0].(float64)
			_, s := a[1].(string)
			return n && s
		}},
		{"object order and required", `{"type":"object","properties":{"z":{"type":"integer"},"a":{"type":"string"}},"required":["z","a","extra"]}`, func(v any) bool {
			m, ok := v.(map[string]any)
			return ok && len(m) == 3 && m["extra"] != nil
		}},
		{"ref and defs", `{"$defs":{"n":{"type":"object","properties":{"next":{"$ref":"#/$defs/n"}}}},"$ref":"#/$defs/n"}`, func(v any) bool { _, ok := v.(map[string]any); return ok }},
		{"anyOf", `{"anyOf":[{"type":"null"},{"type":"object","properties":{"k":{"type":"boolean"}}}]}`, func(v any) bool {
			m, ok := v.(map[string]any)
			_, isBool := m["k"].(bool)
			return ok && isBool
		}},
		{"allOf", `{"allOf":[{"type":"object","properties":{"a":{"type":"integer"}}},{"properties":{"b":{"type":"string"}}}]}`, func(v any) bool {
			m, ok := v.(map[string]any)
			return ok && len(m) == 2
		}},
		{"formats", `{"type":"object","properties":{"t":{"type":"string","format":"date-time"},"u":{"type":"string","format":"uuid"},"ip":{"type":"string","format":"ipv4"}}}`, func(v any) bool {
			m, ok := v.(map[string]any)
			u, _ := m["u"].(string)
			return ok && len(u) == 36 && strings.HasPrefix(m["ip"].(string), "192.0.2.")
		}},
		{"special keys", `{"type":"object","properties":{"a\"<b>":{"type":"string"}}}`, func(v any) bool { m, ok := v.(map[string]any); return ok && m["a\"<b>"] != nil }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := rng{s: 42}
			out := generateJSON(parseSchema(json.RawMessage(tc.schema)), &r)
			var v any
			if err := json.Unmarshal([]byte(out), &v); err != nil {
				t.Fatalf("generated %q: %v", out, err)
			}
			if !tc.check(v) {
				t.Errorf("generated %s does not fit %s", out, tc.schema)
			}
			if tc.name == "object order and required" && !strings.HasPrefix(out, `{"z":`) {
				t.Errorf("generated %s: keys not in schema order", out)
			}
		})
	}
}

// TestChunkTemplate checks that template-built events are byte for byte
// what encoding/json writes for the same chunk.
func TestChunkTemplate(t *testing.T) {
	base := oai.ChatChunk{ID: "chatcmpl-x", Object: "chat.completion.chunk", Created: 1, Model: "we\"ird\x00<model>", SystemFingerprint: "fp"}
	for _, tok := range []string{"plain", " spaced", `q"uote`, "back\\slash", "<tag>&", "new\nline", "ünïcode ✓", "\u2028", "\x01", "bad\xffutf8"} {
		prefix, suffix := chunkTemplate(&base, oai.Delta{Content: &sentinel})
		got := append(appendEscaped(append([]byte{}, prefix...), tok), suffix...)

		chunk := base
		content := tok
		chunk.Choices = []oai.ChunkChoice{{Delta: oai.Delta{Content: &content}}}
		b, _ := json.Marshal(&chunk)
		want := append(append([]byte("data: "), b...), "\n\n"...)
		if !bytes.Equal(got, want) {
			t.Errorf("token %q:\n got %s\nwant %s", tok, got, want)
		}
	}
}

func TestPseudoText(t *testing.T) {
	for seed := range uint64(50) {
		r := rng{s: seed}
		tokens := pseudoText(&r)
		if len(tokens) < 20 || len(tokens) > 28 {
			t.Fatalf("seed %d: %d tokens", seed, len(tokens))
		}
		text := strings.Join(tokens, "")
		if strings.HasPrefix(text, " ") || !strings.HasSuffix(text, ".") || strings.Contains(text, "  ") {
			t.Errorf("seed %d: %q", seed, text)
		}
		for i, tok := range tokens[1:] {
			if !strings.HasPrefix(tok, " ") || strings.Count(tok, " ") != 1 {
				t.Errorf("seed %d: token %d = %q", seed, i+1, tok)
			}
		}
	}
}

// TestEmbeddingBody checks the spliced embeddings body against what
// encoding/json writes for the same response.
func TestEmbeddingBody(t *testing.T) {
	s := New(Options{})
	req := &oai.EmbeddingRequest{Model: `m"<x>`}
	inputs := []string{"a b", `"embedding":null`, "a b"}
	for _, b64 := range []bool{false, true} {
		for range 2 { // the second round comes from the cache
			got := s.openAIEmbeddingBody(req, inputs, 4, 8, b64)
			resp := oai.EmbeddingResponse{Object: "list", Model: req.Model, Usage: oai.EmbeddingUsage{PromptTokens: 4, TotalTokens: 4}}
			for i, in := range inputs {
				vec := make([]float32, 8)
				embed(in, vec)
				raw := appendFloatVector(nil, vec)
				if b64 {
					raw = appendBase64Vector(nil, vec)
				}
				resp.Data = append(resp.Data, oai.Embedding{Object: "embedding", Index: i, Embedding: raw})
			}
			want, err := json.Marshal(&resp)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("base64 %v:\n got %s\nwant %s", b64, got, want)
			}
		}
	}
}
