package openai

import (
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/causeway-ai/causeway/internal/llm"
)

func FuzzDecodeStream(f *testing.F) {
	f.Add("data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\",\"tool_calls\":[{\"index\":0,\"id\":\"x\",\"function\":{\"name\":\"f\",\"arguments\":\"{}\"}}]},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n")
	f.Add("data: {\"error\":{\"message\":\"boom\"}}\n\n")
	f.Add("data: {\"choices\":[{\"index\":99,\"delta\":{}}],\"usage\":{\"prompt_tokens\":1}}\n\n")
	f.Fuzz(func(t *testing.T, in string) {
		st := DecodeStream(strings.NewReader(in))
		defer st.Close()
		for range 100000 {
			_, err := st.Next()
			if errors.Is(err, io.EOF) {
				return
			}
			if err != nil {
				if k := llm.KindOf(err); k != llm.KindUpstream && k != llm.KindTimeout && k != llm.KindCanceled {
					t.Fatalf("stream error of kind %v: %v", k, err)
				}
				return
			}
		}
		t.Fatal("stream did not end")
	})
}
