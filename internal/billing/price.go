package billing

import (
	_ "embed"
	"fmt"
	"maps"
	"math"
	"math/bits"
	"strings"
	"sync"

	"github.com/goccy/go-yaml"

	"github.com/causeway-ai/causeway/internal/llm"
)

// Price is what one million tokens cost, held exactly as nano-USD per
// million tokens so that a price of $0.075/MTok and a cost summed over
// billions of tokens stay exact.
type Price struct {
	// InputNano is the price of uncached input tokens.
	InputNano int64
	// OutputNano is the price of output tokens, reasoning included.
	OutputNano int64
	// CachedInputNano is the price of input tokens read from a prompt
	// cache; 0 means InputNano.
	CachedInputNano int64
	// CacheWriteNano is the price of tokens written to a prompt cache;
	// 0 means InputNano.
	CacheWriteNano int64
}

// PriceFromUSD builds a Price from list prices in US dollars per million
// tokens, rounding each to the nearest nano-USD. Negative and NaN
// arguments give 0 and +Inf saturates: callers validate prices first
// (config does), so these only keep garbage from wrapping around.
func PriceFromUSD(inputPerMTok, outputPerMTok, cachedPerMTok, cacheWritePerMTok float64) Price {
	return Price{
		InputNano:       usdToNano(inputPerMTok),
		OutputNano:      usdToNano(outputPerMTok),
		CachedInputNano: usdToNano(cachedPerMTok),
		CacheWriteNano:  usdToNano(cacheWritePerMTok),
	}
}

func usdToNano(usd float64) int64 {
	n := math.Round(usd * NanoPerUSD)
	switch {
	case !(n > 0): // also NaN
		return 0
	case n >= math.MaxInt64:
		return math.MaxInt64
	}
	return int64(n)
}

// IsZero reports whether every component of the price is zero, as it is
// for an unpriced (or free) model.
func (p Price) IsZero() bool { return p == Price{} }

// Cost returns what u costs at p, exactly, in nano-USD.
//
// CachedInputTokens are a subset of InputTokens and cost CachedInputNano;
// the rest of the input costs InputNano. CacheWriteTokens are in addition
// to InputTokens (Anthropic reports them that way; the codecs of
// providers that count them inside the input must subtract them) and
// cost CacheWriteNano. OutputTokens include reasoning tokens and cost
// OutputNano. Every product is summed in 128 bits and the sum is divided
// by one million once, rounding half up, so no per-term rounding leaks.
// Negative counts and prices count as zero; a cached count larger than
// the input is capped at the input. A result beyond int64 saturates.
func (p Price) Cost(u llm.Usage) int64 {
	in := nonNeg(u.InputTokens)
	cached := min(nonNeg(u.CachedInputTokens), in)
	cachedPrice := p.CachedInputNano
	if cachedPrice == 0 {
		cachedPrice = p.InputNano
	}
	writePrice := p.CacheWriteNano
	if writePrice == 0 {
		writePrice = p.InputNano
	}

	var s sum128
	s.addProduct(in-cached, nonNeg(p.InputNano))
	s.addProduct(cached, nonNeg(cachedPrice))
	s.addProduct(nonNeg(u.CacheWriteTokens), nonNeg(writePrice))
	s.addProduct(nonNeg(u.OutputTokens), nonNeg(p.OutputNano))
	return s.perMillion()
}

func nonNeg(v int64) uint64 {
	if v < 0 {
		return 0
	}
	return uint64(v)
}

// sum128 is an unsigned 128-bit accumulator that saturates instead of
// wrapping, so an absurd count bills the maximum rather than a small
// number.
type sum128 struct {
	hi, lo    uint64
	saturated bool
}

func (s *sum128) addProduct(a, b uint64) {
	hi, lo := bits.Mul64(a, b)
	var carry uint64
	s.lo, carry = bits.Add64(s.lo, lo, 0)
	s.hi, carry = bits.Add64(s.hi, hi, carry)
	if carry != 0 {
		s.saturated = true
	}
}

// perMillion returns the sum divided by 1e6, rounded half up, saturated
// to math.MaxInt64.
func (s *sum128) perMillion() int64 {
	const million = 1_000_000
	if s.saturated {
		return math.MaxInt64
	}
	lo, carry := bits.Add64(s.lo, million/2, 0)
	hi, carry := bits.Add64(s.hi, 0, carry)
	if carry != 0 || hi >= million {
		// The quotient needs more than 64 bits.
		return math.MaxInt64
	}
	q, _ := bits.Div64(hi, lo, million)
	if q > math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(q)
}

// Catalog maps upstream model names to list prices. It is immutable once
// built and safe for concurrent use.
type Catalog struct {
	prices map[string]Price
}

//go:embed catalog.yaml
var catalogYAML []byte

// catalogEntry is one model in catalog.yaml. Its keys are those of a
// price in the Causeway config, so an entry can be copied into the
// config's prices section as it stands.
type catalogEntry struct {
	Input       float64 `yaml:"input_per_mtok"`
	Output      float64 `yaml:"output_per_mtok"`
	CachedInput float64 `yaml:"cached_input_per_mtok"`
	CacheWrite  float64 `yaml:"cache_write_per_mtok"`
}

var defaultCatalog = sync.OnceValue(func() *Catalog {
	c, err := parseCatalog(catalogYAML)
	if err != nil {
		// The file is embedded and tested: this is a build defect.
		panic(fmt.Sprintf("billing: embedded catalog.yaml: %v", err))
	}
	return c
})

// DefaultCatalog returns the list prices embedded in the binary
// (catalog.yaml, dated in its header). It is parsed once.
func DefaultCatalog() *Catalog { return defaultCatalog() }

func parseCatalog(data []byte) (*Catalog, error) {
	var doc struct {
		Models map[string]catalogEntry `yaml:"models"`
	}
	if err := yaml.UnmarshalWithOptions(data, &doc, yaml.Strict()); err != nil {
		return nil, err
	}
	c := &Catalog{prices: make(map[string]Price, len(doc.Models))}
	for name, e := range doc.Models {
		for _, v := range []float64{e.Input, e.Output, e.CachedInput, e.CacheWrite} {
			if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, fmt.Errorf("model %q: price %v is not a non-negative number", name, v)
			}
		}
		c.prices[name] = PriceFromUSD(e.Input, e.Output, e.CachedInput, e.CacheWrite)
	}
	return c, nil
}

// With returns a copy of c in which overrides replace or add prices.
// c itself is unchanged.
func (c *Catalog) With(overrides map[string]Price) *Catalog {
	n := &Catalog{prices: make(map[string]Price, len(c.prices)+len(overrides))}
	maps.Copy(n.prices, c.prices)
	maps.Copy(n.prices, overrides)
	return n
}

// Lookup returns the price of an upstream model. It tries, in order,
// stopping at the first name the catalog holds:
//
//  1. the name exactly as given;
//  2. the name after its last "/", dropping a routing prefix such as
//     "openai/gpt-4o" or Gemini's "models/gemini-2.5-pro";
//  3. without a Bedrock cross-region inference prefix ("us.", "eu.",
//     "apac.", "au.", "ca.", "jp.", "us-gov.", "global."), so
//     "us.anthropic.claude-sonnet-4-5-20250929-v1:0" finds the
//     catalog's Bedrock id;
//  4. without a Bedrock version suffix ("-v1:0", "-v2", ":0") and then
//     without the Bedrock vendor prefix ("anthropic.", "amazon.", "meta."
//     …): "anthropic.claude-3-5-haiku-20241022-v1:0" becomes
//     "claude-3-5-haiku-20241022";
//  5. without a trailing date ("-2024-08-06", "-20241022", "@20241022"),
//     "-latest" or Vertex version ("-001"): "gpt-4o-2024-08-06" becomes
//     "gpt-4o".
//
// Each step works on the result of the one before. A name that is a
// different model (a "-preview-…" or a fine-tune "ft:…") is not
// guessed at and reports false.
func (c *Catalog) Lookup(model string) (Price, bool) {
	if c == nil {
		return Price{}, false
	}
	try := func(name string) (Price, bool) {
		p, ok := c.prices[name]
		return p, ok
	}
	if p, ok := try(model); ok {
		return p, true
	}
	name := model
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		name = name[i+1:]
		if p, ok := try(name); ok {
			return p, true
		}
	}
	if rest, ok := cutBedrockRegion(name); ok {
		name = rest
		if p, ok := try(name); ok {
			return p, true
		}
	}
	if rest, ok := cutBedrockVersion(name); ok {
		name = rest
		if p, ok := try(name); ok {
			return p, true
		}
	}
	if rest, ok := cutBedrockVendor(name); ok {
		name = rest
		if p, ok := try(name); ok {
			return p, true
		}
	}
	if rest, ok := cutVersionSuffix(name); ok {
		if p, ok := try(rest); ok {
			return p, true
		}
	}
	return Price{}, false
}

// bedrockRegions are the geographic prefixes of Bedrock cross-region
// inference profile ids.
var bedrockRegions = []string{"us.", "eu.", "apac.", "au.", "ca.", "jp.", "us-gov.", "global."}

// bedrockVendors are the provider prefixes of Bedrock model ids.
var bedrockVendors = []string{
	"ai21.", "amazon.", "anthropic.", "cohere.", "deepseek.", "meta.",
	"mistral.", "openai.", "qwen.", "stability.", "twelvelabs.", "writer.",
}

func cutBedrockRegion(name string) (string, bool) {
	for _, r := range bedrockRegions {
		if rest, ok := strings.CutPrefix(name, r); ok && strings.Contains(rest, ".") {
			return rest, true
		}
	}
	return name, false
}

func cutBedrockVendor(name string) (string, bool) {
	for _, v := range bedrockVendors {
		if rest, ok := strings.CutPrefix(name, v); ok && rest != "" {
			return rest, true
		}
	}
	return name, false
}

// cutBedrockVersion removes ":N" suffixes (throughput variants such as
// ":0" or ":200k" included) and then a "-vN" suffix.
func cutBedrockVersion(name string) (string, bool) {
	s := name
	if i := strings.IndexByte(s, ':'); i > 0 {
		s = s[:i]
	}
	if i := strings.LastIndex(s, "-v"); i > 0 && isDigits(s[i+2:]) {
		s = s[:i]
	}
	return s, s != name
}

// cutVersionSuffix removes one trailing date ("-2024-08-06", "-20241022",
// Vertex's "@20241022"), "-latest" or three-digit Vertex version ("-001").
func cutVersionSuffix(name string) (string, bool) {
	if i := strings.IndexByte(name, '@'); i > 0 { // Vertex: "claude-3-5-haiku@20241022"
		return name[:i], true
	}
	if rest, ok := strings.CutSuffix(name, "-latest"); ok && rest != "" {
		return rest, true
	}
	// -YYYY-MM-DD
	if n := len(name); n > 11 && name[n-11] == '-' && name[n-6] == '-' && name[n-3] == '-' &&
		isDigits(name[n-10:n-6]) && isDigits(name[n-5:n-3]) && isDigits(name[n-2:]) {
		return name[:n-11], true
	}
	i := strings.LastIndexByte(name, '-')
	if i <= 0 {
		return name, false
	}
	tail := name[i+1:]
	if (len(tail) == 8 || len(tail) == 3) && isDigits(tail) {
		return name[:i], true
	}
	return name, false
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
