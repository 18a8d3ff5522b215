package openai

import (
	"encoding/json"
	"testing"

	"github.com/causeway-ai/causeway/internal/llm"
	wire "github.com/causeway-ai/causeway/internal/schema/openai"
	"github.com/causeway-ai/causeway/internal/sse"
)

// TestTextChunkMatchesMarshal holds the reflection-free text chunk to the
// bytes encoding/json gives for the same chunk.
func TestTextChunkMatchesMarshal(t *testing.T) {
	for _, fp := range []string{"", "fp_<x>"} {
		for _, text := range []string{"plain", " <b>&amp;</b>", "line\nbreak\t\"q\"", "é😀\u2028", "bad\xffutf8", ""} {
			enc := &ChunkEncoder{ID: "chatcmpl-<1>", Model: "m&m", Created: 1700000000, Fingerprint: fp}
			got := string(enc.Encode(nil, &llm.Event{Type: llm.EventText, Choice: 1, Text: text}))
			s := text
			want, _ := json.Marshal(wire.ChatChunk{ID: "chatcmpl-<1>", Object: "chat.completion.chunk", Created: 1700000000, Model: "m&m",
				SystemFingerprint: fp, Choices: []wire.ChunkChoice{{Index: 1, Delta: wire.Delta{Content: &s}}}})
			if w := string(sse.AppendData(nil, want)); got != w {
				t.Errorf("text %q fp %q:\n got %s\nwant %s", text, fp, got, w)
			}
		}
	}
}
