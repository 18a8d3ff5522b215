package config

import (
	"strings"
	"testing"
	"time"
)

const memoryModels = `
providers: [{name: sim, type: openai, base_url: "http://127.0.0.1:1/v1"}]
models:
  - {alias: emb, targets: [{provider: sim, model: e, price: {input_per_mtok: 1, output_per_mtok: 0}}]}
  - {alias: chat, targets: [{provider: sim, model: c, price: {input_per_mtok: 1, output_per_mtok: 1}}]}
`

func TestMemoryConfig(t *testing.T) {
	c, err := Parse([]byte(memoryModels+"memory: {embedding_model: emb, extraction_model: chat, extraction_timeout: 5s, extraction_concurrency: 3}\n"), env())
	if err != nil {
		t.Fatal(err)
	}
	m := c.Memory
	if m.EmbeddingModel != "emb" || m.ExtractionModel != "chat" || m.Timeout() != 5*time.Second || m.Concurrency() != 3 || m.Queue() != DefaultExtractionQueue {
		t.Errorf("memory = %+v (timeout %v, concurrency %d, queue %d)", m, m.Timeout(), m.Concurrency(), m.Queue())
	}
	c, err = Parse([]byte(memoryModels), env())
	if err != nil {
		t.Fatal(err)
	}
	if m := c.Memory; m != (Memory{}) || m.Timeout() != time.Minute || m.Concurrency() != 2 {
		t.Errorf("absent memory section = %+v, timeout %v", m, m.Timeout())
	}
}

func TestMemoryConfigErrors(t *testing.T) {
	for doc, want := range map[string]string{
		"memory: {embedding_model: nope}":       `memory.embedding_model: "nope" is not the alias`,
		"memory: {extraction_model: gpt}":       `memory.extraction_model: "gpt" is not the alias`,
		"memory: {extraction_concurrency: 100}": "memory.extraction_concurrency: must be between",
		"memory: {extraction_timeout: -1s}":     "memory.extraction_timeout: must not be negative",
		"memory: {embeding_model: emb}":         "embeding_model",
		"memory: {extraction_queue: -1}":        "memory.extraction_queue: must not be negative",
	} {
		_, err := Parse([]byte(memoryModels+doc+"\n"), env())
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Parse(%q) = %v, want an error containing %q", doc, err, want)
		}
	}
}
