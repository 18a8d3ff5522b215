package billing

import (
	"math"
	"math/big"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/causeway-ai/causeway/internal/llm"
)

func TestPriceFromUSD(t *testing.T) {
	tests := []struct {
		usd  float64
		want int64
	}{
		{2.50, 2_500_000_000},
		{0.075, 75_000_000},
		{0.00875, 8_750_000},
		{0.005, 5_000_000},
		{18.75, 18_750_000_000},
		{0, 0},
		{-1, 0},
		{math.NaN(), 0},
		{math.Inf(1), math.MaxInt64},
		{1e-10, 0},
	}
	for _, tt := range tests {
		p := PriceFromUSD(tt.usd, tt.usd, tt.usd, tt.usd)
		want := Price{tt.want, tt.want, tt.want, tt.want}
		if p != want {
			t.Errorf("PriceFromUSD(%v) = %+v, want %+v", tt.usd, p, want)
		}
	}
}

func TestCost(t *testing.T) {
	gpt4o := PriceFromUSD(2.50, 10, 1.25, 0)
	sonnet := PriceFromUSD(3, 15, 0.30, 3.75)
	onlyInOut := PriceFromUSD(2, 8, 0, 0)
	nano := Price{InputNano: 1, OutputNano: 1}
	huge := Price{InputNano: 1e12, OutputNano: 1e12, CachedInputNano: 1e12, CacheWriteNano: 1e12}
	maxed := Price{InputNano: math.MaxInt64, OutputNano: math.MaxInt64}

	tests := []struct {
		name  string
		price Price
		usage llm.Usage
		want  int64
	}{
		{"zero usage", gpt4o, llm.Usage{}, 0},
		{"zero price", Price{}, llm.Usage{InputTokens: 1000, OutputTokens: 1000}, 0},
		// 1000*$2.50/M + 500*$10/M = $0.0025 + $0.005
		{"input and output", gpt4o, llm.Usage{InputTokens: 1000, OutputTokens: 500}, 7_500_000},
		// 600 uncached at $2.50 + 400 cached at $1.25
		{"cached input", gpt4o, llm.Usage{InputTokens: 1000, CachedInputTokens: 400}, 2_000_000},
		// Cached price 0 falls back to the input price.
		{"cached at input price", onlyInOut, llm.Usage{InputTokens: 1000, CachedInputTokens: 1000}, 2_000_000},
		// Cache writes are additional to input: 100*$3 + 1000*$3.75 + 10*$15, per M.
		{"cache write", sonnet, llm.Usage{InputTokens: 100, CacheWriteTokens: 1000, OutputTokens: 10}, 4_200_000},
		// Anthropic-style full mix: 200 uncached*$3 + 800 cached*$0.30 + 500 written*$3.75 + 50 out*$15.
		{"all kinds", sonnet, llm.Usage{InputTokens: 1000, CachedInputTokens: 800, CacheWriteTokens: 500, OutputTokens: 50}, 600_000 + 240_000 + 1_875_000 + 750_000},
		// Cache-write price 0 falls back to the input price.
		{"cache write at input price", onlyInOut, llm.Usage{CacheWriteTokens: 1000}, 2_000_000},
		// Reasoning tokens are inside OutputTokens: billed once, at the output price.
		{"reasoning", gpt4o, llm.Usage{OutputTokens: 100, ReasoningTokens: 80}, 1_000_000},
		{"round half up", nano, llm.Usage{InputTokens: 500_000}, 1},
		{"round down", nano, llm.Usage{InputTokens: 499_999}, 0},
		{"round 1.5", nano, llm.Usage{InputTokens: 1_500_000}, 2},
		// Two terms of 0.4 each round once, as 0.8, not twice to 0.
		{"round once at the end", nano, llm.Usage{InputTokens: 400_000, OutputTokens: 400_000}, 1},
		// 3e21 nano·tokens overflows int64 by far; the cost itself fits.
		{"huge counts", huge, llm.Usage{InputTokens: 1e9, CachedInputTokens: 5e8, CacheWriteTokens: 1e9, OutputTokens: 1e9}, 3e15},
		{"saturates", maxed, llm.Usage{InputTokens: math.MaxInt64, OutputTokens: math.MaxInt64}, math.MaxInt64},
		{"negative counts are zero", gpt4o, llm.Usage{InputTokens: -5, OutputTokens: -5, CachedInputTokens: -1, CacheWriteTokens: -1}, 0},
		{"cached capped at input", gpt4o, llm.Usage{InputTokens: 1000, CachedInputTokens: 5000}, 1_250_000},
		{"negative price is zero", Price{InputNano: -5, OutputNano: 1_000_000}, llm.Usage{InputTokens: 10, OutputTokens: 10}, 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.price.Cost(tt.usage); got != tt.want {
				t.Errorf("Cost(%+v) at %+v = %d, want %d", tt.usage, tt.price, got, tt.want)
			}
		})
	}
}

// TestCostMatchesBig checks the 128-bit arithmetic against math/big over
// random counts and prices up to the documented bounds and beyond.
func TestCostMatchesBig(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 10_000 {
		p := Price{
			InputNano:       r.Int64N(1e13),
			OutputNano:      r.Int64N(1e13),
			CachedInputNano: r.Int64N(1e13),
			CacheWriteNano:  r.Int64N(1e13),
		}
		in := r.Int64N(1e10)
		u := llm.Usage{
			InputTokens:       in,
			CachedInputTokens: r.Int64N(in + 1),
			CacheWriteTokens:  r.Int64N(1e10),
			OutputTokens:      r.Int64N(1e10),
		}
		if got, want := p.Cost(u), bigCost(p, u); got != want {
			t.Fatalf("Cost(%+v) at %+v = %d, want %d", u, p, got, want)
		}
	}
}

func bigCost(p Price, u llm.Usage) int64 {
	cachedPrice, writePrice := p.CachedInputNano, p.CacheWriteNano
	if cachedPrice == 0 {
		cachedPrice = p.InputNano
	}
	if writePrice == 0 {
		writePrice = p.InputNano
	}
	sum := new(big.Int)
	add := func(tokens, price int64) {
		sum.Add(sum, new(big.Int).Mul(big.NewInt(tokens), big.NewInt(price)))
	}
	add(u.InputTokens-u.CachedInputTokens, p.InputNano)
	add(u.CachedInputTokens, cachedPrice)
	add(u.CacheWriteTokens, writePrice)
	add(u.OutputTokens, p.OutputNano)
	sum.Add(sum, big.NewInt(500_000))
	sum.Quo(sum, big.NewInt(1_000_000))
	return sum.Int64()
}

func TestLookup(t *testing.T) {
	c := DefaultCatalog()
	tests := []struct {
		model string
		want  string // catalog entry expected; "" means not found
	}{
		{"gpt-4o", "gpt-4o"},
		{"gpt-4.1", "gpt-4.1"},
		{"gpt-4o-2024-08-06", "gpt-4o"},
		{"gpt-4o-mini-2024-07-18", "gpt-4o-mini"},
		{"o3-2025-04-16", "o3"},
		{"openai/gpt-4o-mini", "gpt-4o-mini"},
		{"azure/gpt-5-2025-08-07", "gpt-5"},
		{"claude-sonnet-4-5-20250929", "claude-sonnet-4-5"},
		{"claude-opus-4-20250514", "claude-opus-4"},
		{"claude-3-5-haiku-latest", "claude-3-5-haiku"},
		{"claude-3-5-haiku@20241022", "claude-3-5-haiku"},
		{"anthropic/claude-haiku-4-5-20251001", "claude-haiku-4-5"},
		{"anthropic.claude-sonnet-4-5-20250929-v1:0", "anthropic.claude-sonnet-4-5-20250929-v1:0"},
		{"us.anthropic.claude-sonnet-4-5-20250929-v1:0", "anthropic.claude-sonnet-4-5-20250929-v1:0"},
		{"global.anthropic.claude-haiku-4-5-20251001-v1:0", "anthropic.claude-haiku-4-5-20251001-v1:0"},
		{"eu.amazon.nova-lite-v1:0", "amazon.nova-lite-v1:0"},
		{"anthropic.claude-opus-4-5-20251101-v1:0", "claude-opus-4-5"}, // no Bedrock entry: base name
		{"anthropic.claude-3-5-haiku-20241022-v1:0:200k", "claude-3-5-haiku"},
		{"amazon.titan-embed-text-v2:0", "amazon.titan-embed-text-v2:0"},
		{"models/gemini-2.5-pro", "gemini-2.5-pro"},
		{"gemini-2.0-flash-001", "gemini-2.0-flash"},
		{"gemini-embedding-001", "gemini-embedding-001"},
		{"text-embedding-004", "text-embedding-004"},
		{"o3-mini", ""},
		{"gpt-4o-realtime-preview", ""},
		{"ft:gpt-4o-mini-2024-07-18:acme::abc123", ""},
		{"mistral.mistral-large-2407-v1:0", ""},
		{"primary", ""},
		{"", ""},
	}
	for _, tt := range tests {
		got, ok := c.Lookup(tt.model)
		if tt.want == "" {
			if ok {
				t.Errorf("Lookup(%q) = %+v, true; want not found", tt.model, got)
			}
			continue
		}
		want, wantOK := c.prices[tt.want]
		if !wantOK {
			t.Fatalf("catalog lacks %q", tt.want)
		}
		if !ok || got != want {
			t.Errorf("Lookup(%q) = %+v, %v; want %q's %+v", tt.model, got, ok, tt.want, want)
		}
	}
	var nilCatalog *Catalog
	if _, ok := nilCatalog.Lookup("gpt-4o"); ok {
		t.Error("nil catalog found a price")
	}
}

func TestWith(t *testing.T) {
	base := DefaultCatalog()
	orig, _ := base.Lookup("gpt-4o")
	cheap := Price{InputNano: 1, OutputNano: 2}
	c := base.With(map[string]Price{"gpt-4o": cheap, "my-local-model": {}})

	if got, ok := c.Lookup("gpt-4o-2024-08-06"); !ok || got != cheap {
		t.Errorf("override: Lookup = %+v, %v; want %+v", got, ok, cheap)
	}
	if got, ok := c.Lookup("my-local-model"); !ok || !got.IsZero() {
		t.Errorf("added: Lookup = %+v, %v; want zero price, true", got, ok)
	}
	if _, ok := c.Lookup("gpt-5"); !ok {
		t.Error("With dropped an entry it did not override")
	}
	if got, _ := base.Lookup("gpt-4o"); got != orig {
		t.Errorf("With changed the original: %+v, want %+v", got, orig)
	}
	if _, ok := base.Lookup("my-local-model"); ok {
		t.Error("With added to the original")
	}
}

func TestCatalogEntries(t *testing.T) {
	c := DefaultCatalog()
	required := []string{
		"gpt-4o", "gpt-4o-mini", "gpt-4.1", "gpt-4.1-mini", "gpt-4.1-nano", "o3", "o4-mini",
		"gpt-5", "gpt-5-mini", "gpt-5-nano",
		"text-embedding-3-small", "text-embedding-3-large", "text-embedding-ada-002",
		"claude-opus-4-1", "claude-opus-4", "claude-sonnet-4-5", "claude-sonnet-4",
		"claude-3-7-sonnet", "claude-haiku-4-5", "claude-3-5-haiku",
		"anthropic.claude-opus-4-1-20250805-v1:0", "anthropic.claude-opus-4-20250514-v1:0",
		"anthropic.claude-sonnet-4-5-20250929-v1:0", "anthropic.claude-sonnet-4-20250514-v1:0",
		"anthropic.claude-3-7-sonnet-20250219-v1:0", "anthropic.claude-haiku-4-5-20251001-v1:0",
		"anthropic.claude-3-5-haiku-20241022-v1:0",
		"amazon.nova-pro-v1:0", "amazon.nova-lite-v1:0", "amazon.nova-micro-v1:0",
		"amazon.titan-embed-text-v2:0", "meta.llama3-3-70b-instruct-v1:0",
		"gemini-2.5-pro", "gemini-2.5-flash", "gemini-2.5-flash-lite", "gemini-2.0-flash",
		"gemini-embedding-001", "text-embedding-004",
	}
	for _, name := range required {
		if _, ok := c.prices[name]; !ok {
			t.Errorf("catalog lacks %q", name)
		}
	}
	for name, p := range c.prices {
		embedding := strings.Contains(name, "embed")
		switch {
		case p.InputNano <= 0:
			t.Errorf("%s: input price %d, want > 0", name, p.InputNano)
		case p.OutputNano <= 0 && !embedding:
			t.Errorf("%s: output price %d, want > 0", name, p.OutputNano)
		case p.CachedInputNano > p.InputNano:
			t.Errorf("%s: cached input %d costs more than input %d", name, p.CachedInputNano, p.InputNano)
		case p.CacheWriteNano != 0 && p.CacheWriteNano < p.InputNano:
			t.Errorf("%s: cache write %d costs less than input %d", name, p.CacheWriteNano, p.InputNano)
		}
		// A Bedrock Claude id must cost what its Anthropic name costs.
		if rest, ok := strings.CutPrefix(name, "anthropic."); ok {
			base, _ := cutBedrockVersion(rest)
			base, _ = cutVersionSuffix(base)
			if q, ok := c.prices[base]; !ok || q != p {
				t.Errorf("%s = %+v, but %s = %+v, %v", name, p, base, q, ok)
			}
		}
	}
}

func TestParseCatalogRejects(t *testing.T) {
	for _, doc := range []string{
		"models:\n  m: {input_per_mtok: -1}\n",
		"models:\n  m: {input_per_mtok: 1, bogus: 2}\n",
		"modelz: {}\n",
	} {
		if _, err := parseCatalog([]byte(doc)); err == nil {
			t.Errorf("parseCatalog(%q) = nil error", doc)
		}
	}
}

func BenchmarkLookup(b *testing.B) {
	c := DefaultCatalog()
	for b.Loop() {
		c.Lookup("us.anthropic.claude-sonnet-4-5-20250929-v1:0")
	}
}

func BenchmarkCost(b *testing.B) {
	p := PriceFromUSD(3, 15, 0.3, 3.75)
	u := llm.Usage{InputTokens: 1000, CachedInputTokens: 800, CacheWriteTokens: 500, OutputTokens: 50}
	for b.Loop() {
		p.Cost(u)
	}
}
