package sim

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"sync"
	"unicode"
)

// This file is the protocol-neutral half of the simulator: given a prompt
// (what a protocol handler extracted from its wire request), it decides the
// answer, deterministically. The rules it implements are in the package
// documentation (sim.go), under "Determinism and usage".

// finish is why an answer ended; each protocol maps it to its own name.
type finish uint8

const (
	finishStop finish = iota
	finishLength
	finishToolCalls
)

// toolMode is the neutral form of tool_choice.
type toolMode uint8

const (
	toolAuto toolMode = iota
	toolNone
	toolRequired
	toolNamed
)

// format is the requested output format.
type format uint8

const (
	formatText format = iota
	formatJSONObject
	formatJSONSchema
)

// toolSpec is one function the model may call.
type toolSpec struct {
	name   string
	params json.RawMessage
}

// prompt is what a protocol handler extracts from its request.
type prompt struct {
	seed uint64
	// toolResults holds the contents of the trailing tool-result messages,
	// when the conversation ends with them.
	toolResults []string
	// lastUser is the text of the last user message.
	lastUser string
	tools    []toolSpec
	toolMode toolMode
	toolName string // with toolNamed
	// parallel is false when the request forbids parallel tool calls.
	parallel bool
	format   format
	schema   json.RawMessage // with formatJSONSchema
	// maxTokens caps the output; 0 means no cap.
	maxTokens   int
	stops       []string
	inputTokens int
}

// toolCall is one generated call.
type toolCall struct {
	id        string
	name      string
	args      string
	fragments []string
}

// answer is the simulator's reply, before any protocol encodes it.
type answer struct {
	tokens       []string // text or JSON content, one element per token
	calls        []toolCall
	finish       finish
	inputTokens  int
	outputTokens int
}

// text returns the concatenated content.
func (a *answer) text() string { return strings.Join(a.tokens, "") }

// parallelTrigger in the last user message asks for two parallel tool calls.
const parallelTrigger = "parallel"

// plan decides the answer for p.
func plan(p *prompt) answer {
	r := rng{s: p.seed}
	a := answer{inputTokens: p.inputTokens}
	if len(p.tools) > 0 && p.toolMode != toolNone && p.toolResults == nil {
		a.calls = planCalls(p, &r)
		a.finish = finishToolCalls
		for i := range a.calls {
			a.outputTokens += len(a.calls[i].fragments)
		}
		return a
	}
	switch {
	case p.toolResults != nil:
		a.tokens = splitAtSpaces("The tool returned: "+strings.Join(p.toolResults, "; ")+".", nil)
	case p.format == formatJSONObject:
		a.tokens = jsonFragments(generateJSON(jsonObjectSchema, &r), nil)
	case p.format == formatJSONSchema:
		a.tokens = jsonFragments(generateJSON(parseSchema(p.schema), &r), nil)
	default:
		a.tokens = pseudoText(&r)
	}
	a.finish = finishStop
	if len(p.stops) > 0 {
		a.tokens, _ = cutAtStop(a.tokens, p.stops)
	}
	if p.maxTokens > 0 && len(a.tokens) > p.maxTokens {
		a.tokens = a.tokens[:p.maxTokens]
		a.finish = finishLength
	}
	a.outputTokens = len(a.tokens)
	return a
}

// planCalls chooses the tools to call and generates their arguments.
func planCalls(p *prompt, r *rng) []toolCall {
	picks := []int{0}
	switch {
	case p.toolMode == toolNamed:
		for i, t := range p.tools {
			if t.name == p.toolName {
				picks[0] = i
				break
			}
		}
	case p.parallel && len(p.tools) >= 2 && containsFold(p.lastUser, parallelTrigger):
		picks = append(picks, 1)
	}
	calls := make([]toolCall, len(picks))
	for i, ti := range picks {
		t := p.tools[ti]
		args := generateJSON(parseSchema(t.params), r)
		calls[i] = toolCall{
			id:        "call_" + randomID(r, 24),
			name:      t.name,
			args:      args,
			fragments: jsonFragments(args, nil),
		}
	}
	return calls
}

// cutAtStop truncates tokens before the earliest stop sequence; the token
// that straddles it keeps its part before the stop.
func cutAtStop(tokens []string, stops []string) ([]string, bool) {
	joined := strings.Join(tokens, "")
	at := -1
	for _, s := range stops {
		if s == "" {
			continue
		}
		if i := strings.Index(joined, s); i >= 0 && (at < 0 || i < at) {
			at = i
		}
	}
	if at < 0 {
		return tokens, false
	}
	off := 0
	for i, t := range tokens {
		if off+len(t) > at {
			if at > off {
				tokens[i] = t[:at-off]
				return tokens[:i+1], true
			}
			return tokens[:i], true
		}
		off += len(t)
	}
	return tokens, true
}

// countWords counts runs of non-whitespace bytes (ASCII whitespace).
func countWords(s string) int {
	n := 0
	in := false
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case ' ', '\t', '\n', '\r', '\v', '\f':
			in = false
		default:
			if !in {
				n++
				in = true
			}
		}
	}
	return n
}

// containsFold reports whether s contains the lower-case ASCII word sub,
// ignoring ASCII case, without allocating.
func containsFold(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		j := 0
		for ; j < len(sub); j++ {
			c := s[i+j]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c != sub[j] {
				break
			}
		}
		if j == len(sub) {
			return true
		}
	}
	return false
}

// splitAtSpaces cuts s into tokens that each begin at a space (except the
// first); their concatenation is s.
func splitAtSpaces(s string, dst []string) []string {
	start := 0
	for i := 1; i < len(s); i++ {
		if s[i] == ' ' && s[i-1] != ' ' {
			dst = append(dst, s[start:i])
			start = i
		}
	}
	if start < len(s) {
		dst = append(dst, s[start:])
	}
	return dst
}

// jsonFragments cuts JSON text into streaming fragments: runs of
// punctuation, or runs of word bytes (letters, digits, non-ASCII) optionally
// led by one space. Their concatenation is s.
func jsonFragments(s string, dst []string) []string {
	isWord := func(c byte) bool {
		return c >= 0x80 || c == '_' || c == '-' || ('0' <= c && c <= '9') || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z')
	}
	spaceThenWord := func(i int) bool { return s[i] == ' ' && i+1 < len(s) && isWord(s[i+1]) }
	for i := 0; i < len(s); {
		start := i
		if isWord(s[i]) || spaceThenWord(i) {
			i++
			for i < len(s) && isWord(s[i]) {
				i++
			}
		} else {
			i++
			for i < len(s) && !isWord(s[i]) && !spaceThenWord(i) {
				i++
			}
		}
		dst = append(dst, s[start:i])
	}
	return dst
}

// embed fills dst with a unit vector for text by feature hashing: each
// lower-cased word (a run of letters and digits) is a feature, and so is
// each character trigram of the word padded with a space on either side;
// a feature adds +1 or -1 (a bit of its FNV-1a hash) at the dimension its
// hash picks, trigrams at half weight. So texts that share words, or
// parts of words, get similar vectors, and the same text the same
// vector, as a real embedding model would, without any meaning: synonyms
// are as far apart as any two words. A text without words gets the first
// unit vector.
func embed(text string, dst []float32) {
	clear(dst)
	if len(dst) == 0 {
		return
	}
	add := func(kind byte, f string, w float32) {
		h := newHasher()
		h.bytes([]byte{kind})
		h.str(f)
		x := uint64(h)
		i := int((x >> 1) % uint64(len(dst)))
		if x&1 == 0 {
			w = -w
		}
		dst[i] += w
	}
	for _, word := range strings.FieldsFunc(strings.ToLower(text), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsNumber(r)
	}) {
		add('w', word, 1)
		padded := []rune(" " + word + " ")
		for i := 0; i+3 <= len(padded); i++ {
			add('t', string(padded[i:i+3]), 0.5)
		}
	}
	var sum float64
	for _, v := range dst {
		sum += float64(v) * float64(v)
	}
	if sum == 0 {
		dst[0] = 1
		return
	}
	norm := math.Sqrt(sum)
	for i := range dst {
		dst[i] = float32(float64(dst[i]) / norm)
	}
}

// vectorKey identifies an encoded vector.
type vectorKey struct {
	text string
	dims int
	enc  vectorEncoding
}

// vectorEncoding is how a protocol writes a vector.
type vectorEncoding uint8

const (
	vectorFloatJSON vectorEncoding = iota
	vectorBase64JSON
)

// vectorCache keeps encoded vectors: formatting a few thousand floats costs
// far more than a lookup, and load tests embed the same texts again and
// again. It forgets everything when full.
type vectorCache struct {
	mu sync.Mutex
	m  map[vectorKey][]byte
}

const (
	vectorCacheEntries = 1024
	vectorCacheMaxText = 4 << 10
)

func (c *vectorCache) get(k vectorKey) ([]byte, bool) {
	if len(k.text) > vectorCacheMaxText {
		return nil, false
	}
	c.mu.Lock()
	v, ok := c.m[k]
	c.mu.Unlock()
	return v, ok
}

func (c *vectorCache) put(k vectorKey, v []byte) {
	if len(k.text) > vectorCacheMaxText {
		return
	}
	c.mu.Lock()
	if c.m == nil || len(c.m) >= vectorCacheEntries {
		c.m = make(map[vectorKey][]byte, vectorCacheEntries)
	}
	c.m[k] = v
	c.mu.Unlock()
}

// rng is splitmix64: tiny, fast and deterministic.
type rng struct{ s uint64 }

func (r *rng) next() uint64 {
	r.s += 0x9e3779b97f4a7c15
	z := r.s
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

func (r *rng) intn(n int) int { return int(r.next() % uint64(n)) }

// float returns a number in [0, 1).
func (r *rng) float() float64 { return float64(r.next()>>11) / (1 << 53) }

const idAlphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

// randomID returns n alphanumerics drawn from r.
func randomID(r *rng, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = idAlphabet[r.intn(len(idAlphabet))]
	}
	return string(b)
}

// hasher is FNV-1a 64 over strings, with a separator after each field so
// that ("ab","c") and ("a","bc") differ.
type hasher uint64

const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

func newHasher() hasher { return fnvOffset }

func (h *hasher) str(s string) {
	x := uint64(*h)
	for i := 0; i < len(s); i++ {
		x ^= uint64(s[i])
		x *= fnvPrime
	}
	x ^= 0xff
	x *= fnvPrime
	*h = hasher(x)
}

func (h *hasher) bytes(b []byte) {
	x := uint64(*h)
	for _, c := range b {
		x ^= uint64(c)
		x *= fnvPrime
	}
	x ^= 0xff
	x *= fnvPrime
	*h = hasher(x)
}

func (h *hasher) u64(v uint64) {
	x := uint64(*h)
	for range 8 {
		x ^= v & 0xff
		x *= fnvPrime
		v >>= 8
	}
	*h = hasher(x)
}

// vocab is the pseudo-text vocabulary: lower-case ASCII, so tokens never
// need JSON escaping.
var vocab = [...]string{
	"the", "model", "answers", "quickly", "with", "a", "simulated", "reply",
	"that", "reads", "like", "text", "but", "means", "nothing", "in",
	"particular", "gateway", "routes", "each", "request", "to", "an", "upstream",
	"and", "meters", "every", "token", "it", "sends", "back", "while",
	"budgets", "keep", "spend", "under", "control", "for", "teams", "users",
	"latency", "stays", "low", "because", "streams", "flow", "through", "one",
	"path", "from", "door", "provider", "simple", "clear", "useful", "data",
	"fresh", "replica", "source", "query", "tool", "call", "result", "value",
}

// Precomputed token forms, so that emitting a token never allocates.
var (
	tokFirst [len(vocab)]string // "Word"
	tokMid   [len(vocab)]string // " word"
	tokStart [len(vocab)]string // " Word" (after a period)
	tokEnd   [len(vocab)]string // " word."
)

func init() {
	for i, w := range vocab {
		c := strings.ToUpper(w[:1]) + w[1:]
		tokFirst[i] = c
		tokMid[i] = " " + w
		tokStart[i] = " " + c
		tokEnd[i] = " " + w + "."
	}
}

// pseudoText draws 20 to 28 tokens of sentences of 6 to 11 words.
func pseudoText(r *rng) []string {
	n := 20 + r.intn(9)
	out := make([]string, n)
	sentence := 6 + r.intn(6)
	inSentence := 0
	for i := range out {
		w := r.intn(len(vocab))
		switch {
		case i == 0:
			out[i] = tokFirst[w]
		case i == n-1 || inSentence == sentence-1:
			out[i] = tokEnd[w]
		case inSentence == 0:
			out[i] = tokStart[w]
		default:
			out[i] = tokMid[w]
		}
		inSentence++
		if inSentence == sentence {
			inSentence = 0
			sentence = 6 + r.intn(6)
		}
	}
	return out
}

// schemaNode is the part of a JSON Schema the generator understands.
type schemaNode struct {
	Type        json.RawMessage        `json:"type"`
	Properties  properties             `json:"properties"`
	Required    []string               `json:"required"`
	Items       items                  `json:"items"`
	PrefixItems []*schemaNode          `json:"prefixItems"`
	Enum        []json.RawMessage      `json:"enum"`
	Const       json.RawMessage        `json:"const"`
	AnyOf       []*schemaNode          `json:"anyOf"`
	OneOf       []*schemaNode          `json:"oneOf"`
	AllOf       []*schemaNode          `json:"allOf"`
	Ref         string                 `json:"$ref"`
	Defs        map[string]*schemaNode `json:"$defs"`
	Definitions map[string]*schemaNode `json:"definitions"`
	Minimum     *float64               `json:"minimum"`
	Maximum     *float64               `json:"maximum"`
	MinItems    *int                   `json:"minItems"`
	MaxItems    *int                   `json:"maxItems"`
	MinLength   *int                   `json:"minLength"`
	MaxLength   *int                   `json:"maxLength"`
	Format      string                 `json:"format"`
}

// UnmarshalJSON accepts boolean schemas (true/false) as the empty schema.
func (n *schemaNode) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && (b[0] == 't' || b[0] == 'f') {
		*n = schemaNode{}
		return nil
	}
	type plain schemaNode
	return json.Unmarshal(b, (*plain)(n))
}

// property is one entry of "properties", kept in schema order so that
// generated objects list keys as the schema does.
type property struct {
	name string
	node *schemaNode
}

type properties []property

func (p *properties) UnmarshalJSON(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		*p = nil
		return nil // not an object: ignore
	}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return err
		}
		key, _ := t.(string)
		n := new(schemaNode)
		if err := dec.Decode(n); err != nil {
			return err
		}
		*p = append(*p, property{name: key, node: n})
	}
	return nil
}

// items is "items": one schema, or (older drafts) an array of schemas.
type items struct {
	one   *schemaNode
	tuple []*schemaNode
}

func (it *items) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '[' {
		return json.Unmarshal(b, &it.tuple)
	}
	it.one = new(schemaNode)
	return json.Unmarshal(b, it.one)
}

// parseSchema decodes a JSON Schema; an absent or unreadable schema is nil,
// which generates an empty object.
func parseSchema(raw json.RawMessage) *schemaNode {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil
	}
	n := new(schemaNode)
	if err := json.Unmarshal(raw, n); err != nil {
		return nil
	}
	return n
}

// jsonObjectSchema shapes the answers of JSON mode (response_format
// json_object).
var jsonObjectSchema = parseSchema(json.RawMessage(`{"type":"object","properties":{
	"answer":{"type":"string"},
	"confidence":{"type":"number","minimum":0,"maximum":1},
	"tags":{"type":"array","items":{"type":"string"},"minItems":2}}}`))

// generateJSON returns a JSON value valid against root (nil → {}).
func generateJSON(root *schemaNode, r *rng) string {
	if root == nil {
		return "{}"
	}
	g := jsonGen{r: r, root: root}
	return string(g.value(make([]byte, 0, 128), root, 0))
}

const maxSchemaDepth = 12

// maxJSONValues bounds the values one generated document holds: a
// recursive schema (arrays of 16 items of itself, 12 deep) would otherwise
// grow exponentially and hang the simulator.
const maxJSONValues = 4096

type jsonGen struct {
	r      *rng
	root   *schemaNode
	values int
}

func (g *jsonGen) value(b []byte, n *schemaNode, depth int) []byte {
	g.values++
	if depth > maxSchemaDepth || g.values > maxJSONValues {
		return append(b, "null"...)
	}
	if n == nil {
		return g.word(b)
	}
	if n.Ref != "" {
		return g.value(b, g.resolve(n.Ref), depth+1)
	}
	if len(n.Const) > 0 {
		return appendCompact(b, n.Const)
	}
	if len(n.Enum) > 0 {
		return appendCompact(b, n.Enum[0])
	}
	if len(n.AllOf) > 0 {
		return g.value(b, mergeAllOf(n), depth+1)
	}
	if alts := append(n.AnyOf[:len(n.AnyOf):len(n.AnyOf)], n.OneOf...); len(alts) > 0 {
		pick := alts[0]
		for _, a := range alts {
			if a != nil && a.typeName() != "null" {
				pick = a
				break
			}
		}
		return g.value(b, pick, depth+1)
	}
	switch n.typeName() {
	case "object":
		return g.object(b, n, depth)
	case "array":
		return g.array(b, n, depth)
	case "integer":
		lo, hi := bounds(n, 1, 100)
		lo, hi = math.Ceil(lo), math.Floor(hi)
		if hi < lo {
			hi = lo
		}
		span := min(hi-lo, 1e9)
		return strconv.AppendInt(b, int64(lo)+int64(g.r.intn(int(span)+1)), 10)
	case "number":
		lo, hi := bounds(n, 0, 100)
		if hi < lo {
			hi = lo
		}
		v := math.Floor((lo+(hi-lo)*g.r.float())*100) / 100
		if v < lo {
			v = lo
		}
		return strconv.AppendFloat(b, v, 'f', -1, 64)
	case "boolean":
		if g.r.intn(2) == 0 {
			return append(b, "false"...)
		}
		return append(b, "true"...)
	case "null":
		return append(b, "null"...)
	}
	return g.str(b, n)
}

func (g *jsonGen) object(b []byte, n *schemaNode, depth int) []byte {
	b = append(b, '{')
	first := true
	for _, p := range n.Properties {
		if !first {
			b = append(b, ',')
		}
		first = false
		b = appendQuoted(b, p.name)
		b = append(b, ':')
		b = g.value(b, p.node, depth+1)
	}
	// Required names the schema forgot to describe still get a value.
	for _, name := range n.Required {
		if n.Properties.has(name) {
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = appendQuoted(b, name)
		b = append(b, ':')
		b = g.word(b)
	}
	return append(b, '}')
}

func (p properties) has(name string) bool {
	for _, q := range p {
		if q.name == name {
			return true
		}
	}
	return false
}

func (g *jsonGen) array(b []byte, n *schemaNode, depth int) []byte {
	tuple := n.PrefixItems
	if len(tuple) == 0 {
		tuple = n.Items.tuple
	}
	count := max(1, len(tuple))
	if n.MinItems != nil && *n.MinItems > count {
		count = *n.MinItems
	}
	if n.MaxItems != nil && *n.MaxItems < count {
		count = max(0, *n.MaxItems)
	}
	count = min(count, 16)
	b = append(b, '[')
	for i := range count {
		if i > 0 {
			b = append(b, ',')
		}
		var item *schemaNode
		switch {
		case i < len(tuple):
			item = tuple[i]
		case n.Items.one != nil:
			item = n.Items.one
		}
		b = g.value(b, item, depth+1)
	}
	return append(b, ']')
}

func (g *jsonGen) str(b []byte, n *schemaNode) []byte {
	w := vocab[g.r.intn(len(vocab))]
	switch n.Format {
	case "date-time":
		return append(b, `"2024-05-01T12:00:00Z"`...)
	case "date":
		return append(b, `"2024-05-01"`...)
	case "time":
		return append(b, `"12:00:00"`...)
	case "email":
		return append(append(append(b, '"'), w...), `@example.com"`...)
	case "uri", "url":
		return append(append(append(b, `"https://example.com/`...), w...), '"')
	case "uuid":
		id := []byte(randomHex(g.r, 32))
		b = append(b, '"')
		b = append(b, id[0:8]...)
		b = append(b, '-')
		b = append(b, id[8:12]...)
		b = append(b, '-')
		b = append(b, id[12:16]...)
		b = append(b, '-')
		b = append(b, id[16:20]...)
		b = append(b, '-')
		b = append(b, id[20:32]...)
		return append(b, '"')
	case "ipv4":
		b = strconv.AppendInt(append(b, `"192.0.2.`...), int64(1+g.r.intn(254)), 10)
		return append(b, '"')
	}
	s := w
	if n.MinLength != nil {
		for len(s) < *n.MinLength && len(s) < 4096 {
			s += " " + vocab[g.r.intn(len(vocab))]
		}
	}
	if n.MaxLength != nil && *n.MaxLength >= 0 && len(s) > *n.MaxLength {
		s = s[:*n.MaxLength]
	}
	return appendQuoted(b, s)
}

func (g *jsonGen) word(b []byte) []byte {
	return appendQuoted(b, vocab[g.r.intn(len(vocab))])
}

// resolve follows a local $ref ("#", "#/$defs/X", "#/definitions/X").
func (g *jsonGen) resolve(ref string) *schemaNode {
	switch {
	case ref == "#":
		return g.root
	case strings.HasPrefix(ref, "#/$defs/"):
		return g.root.Defs[ref[len("#/$defs/"):]]
	case strings.HasPrefix(ref, "#/definitions/"):
		return g.root.Definitions[ref[len("#/definitions/"):]]
	}
	return nil
}

// typeName returns the schema's type: the first non-null one when it lists
// several, else a type inferred from its keywords.
func (n *schemaNode) typeName() string {
	t := bytes.TrimSpace(n.Type)
	if len(t) > 0 {
		switch t[0] {
		case '"':
			var s string
			if json.Unmarshal(t, &s) == nil {
				return s
			}
		case '[':
			var ss []string
			if json.Unmarshal(t, &ss) == nil {
				for _, s := range ss {
					if s != "null" {
						return s
					}
				}
				if len(ss) > 0 {
					return "null"
				}
			}
		}
	}
	switch {
	case n.Properties != nil:
		return "object"
	case n.Items.one != nil || n.Items.tuple != nil || n.PrefixItems != nil:
		return "array"
	}
	return "string"
}

// mergeAllOf flattens allOf into one schema: properties and required are
// concatenated, other keywords come from the first schema that sets them.
func mergeAllOf(n *schemaNode) *schemaNode {
	m := *n
	m.AllOf = nil
	for _, s := range n.AllOf {
		if s == nil {
			continue
		}
		if len(m.Type) == 0 {
			m.Type = s.Type
		}
		for _, p := range s.Properties {
			if !m.Properties.has(p.name) {
				m.Properties = append(m.Properties, p)
			}
		}
		m.Required = append(m.Required, s.Required...)
		if m.Items.one == nil && m.Items.tuple == nil {
			m.Items = s.Items
		}
		if m.Ref == "" && s.Ref != "" && len(s.Properties) == 0 {
			m.Ref = s.Ref
		}
	}
	if m.Ref != "" && len(m.Properties) > 0 {
		m.Ref = ""
	}
	return &m
}

func bounds(n *schemaNode, lo, hi float64) (float64, float64) {
	if n.Minimum != nil {
		lo = *n.Minimum
		if n.Maximum == nil && hi < lo {
			hi = lo + 100
		}
	}
	if n.Maximum != nil {
		hi = *n.Maximum
		if n.Minimum == nil && lo > hi {
			lo = hi - 100
		}
	}
	return lo, hi
}

func randomHex(r *rng, n int) string {
	const hex = "0123456789abcdef"
	b := make([]byte, n)
	for i := range b {
		b[i] = hex[r.intn(16)]
	}
	return string(b)
}

// appendCompact appends a JSON value without insignificant whitespace.
func appendCompact(b []byte, raw json.RawMessage) []byte {
	var buf bytes.Buffer
	if json.Compact(&buf, raw) != nil {
		return append(b, "null"...)
	}
	return append(b, buf.Bytes()...)
}

// appendQuoted appends s as a JSON string, escaped exactly as encoding/json
// escapes it.
func appendQuoted(b []byte, s string) []byte {
	b = append(b, '"')
	b = appendEscaped(b, s)
	return append(b, '"')
}

// appendEscaped appends the body of s as a JSON string (no quotes), escaped
// exactly as encoding/json escapes it. Plain ASCII, the common case, is
// copied; anything else goes through encoding/json.
func appendEscaped(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s)
			return append(b, q[1:len(q)-1]...)
		}
	}
	return append(b, s...)
}
