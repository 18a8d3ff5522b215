package config

import "time"

// Memory configures long-term memory (/v1/memories, and recall and
// extraction in the Responses runtime). Every field is optional: with
// none set, memories are found by full-text search only and nothing is
// extracted. A reload applies the models and the cap; the extraction's
// timeout, concurrency and queue take effect on restart.
type Memory struct {
	// EmbeddingModel is the alias of a model served by this gateway
	// (listed under models) that embeds memories. When set, every memory
	// written through the API or by extraction is embedded as the caller
	// (and metered to them), and search and recall fuse full-text and
	// vector similarity ranking. Vectors made by another model are
	// ignored. Empty means full-text search only.
	EmbeddingModel string `yaml:"embedding_model"`
	// ExtractionModel is the alias of a model served by this gateway
	// that, after each stored response whose request had a "memory"
	// object, reads the turn and stores durable facts about the user as
	// memories in the request's namespace, as the caller (and metered to
	// them). A request opts out with "memory": {"extract": false}. Empty
	// means no extraction.
	ExtractionModel string `yaml:"extraction_model"`
	// ExtractionTimeout bounds one extraction (the model call and the
	// writes). The default is "60s".
	ExtractionTimeout Duration `yaml:"extraction_timeout"`
	// ExtractionConcurrency is how many extractions run at once; turns
	// beyond it wait their turn, up to ExtractionQueue of them. The
	// default is 2.
	ExtractionConcurrency int `yaml:"extraction_concurrency"`
	// ExtractionQueue is how many turns may wait for extraction; a turn
	// beyond it is not extracted (and a warning is logged). The default
	// is 256.
	ExtractionQueue int `yaml:"extraction_queue"`
	// MaxPerNamespace caps the memories one user keeps in one namespace
	// (it bounds what a vector search reads). A write beyond it is a 400
	// (an extraction skips the fact). The default is 10000.
	MaxPerNamespace int `yaml:"max_per_namespace"`
}

// Defaults of the memory section.
const (
	DefaultExtractionTimeout     = Duration(60 * time.Second)
	DefaultExtractionConcurrency = 2
	DefaultExtractionQueue       = 256
)

// DefaultMaxPerNamespace is the default cap of memories per user and
// namespace.
const DefaultMaxPerNamespace = 10000

// Cap returns MaxPerNamespace or its default.
func (m Memory) Cap() int {
	if m.MaxPerNamespace <= 0 {
		return DefaultMaxPerNamespace
	}
	return m.MaxPerNamespace
}

// Timeout returns ExtractionTimeout or its default.
func (m Memory) Timeout() time.Duration {
	if m.ExtractionTimeout <= 0 {
		return DefaultExtractionTimeout.Std()
	}
	return m.ExtractionTimeout.Std()
}

// Concurrency returns ExtractionConcurrency or its default.
func (m Memory) Concurrency() int {
	if m.ExtractionConcurrency <= 0 {
		return DefaultExtractionConcurrency
	}
	return m.ExtractionConcurrency
}

// Queue returns ExtractionQueue or its default.
func (m Memory) Queue() int {
	if m.ExtractionQueue <= 0 {
		return DefaultExtractionQueue
	}
	return m.ExtractionQueue
}

// validate checks that the models named are aliases of the config.
func (m Memory) validate(v *validator, aliases map[string]int) {
	for _, f := range []struct{ path, alias string }{
		{"memory.embedding_model", m.EmbeddingModel},
		{"memory.extraction_model", m.ExtractionModel},
	} {
		if f.alias == "" {
			continue
		}
		if _, ok := aliases[f.alias]; !ok {
			v.addf(f.path, "%q is not the alias of any of models", f.alias)
		}
	}
	if m.ExtractionTimeout < 0 {
		v.addf("memory.extraction_timeout", "must not be negative, got %s", m.ExtractionTimeout)
	}
	if m.ExtractionConcurrency < 0 || m.ExtractionConcurrency > 64 {
		v.addf("memory.extraction_concurrency", "must be between 0 (the default, 2) and 64, got %d", m.ExtractionConcurrency)
	}
	if m.MaxPerNamespace < 0 {
		v.addf("memory.max_per_namespace", "must not be negative, got %d", m.MaxPerNamespace)
	}
	if m.ExtractionQueue < 0 {
		v.addf("memory.extraction_queue", "must not be negative, got %d", m.ExtractionQueue)
	}
}
