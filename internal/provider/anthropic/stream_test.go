package anthropic

import (
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/causeway-ai/causeway/internal/llm"
)

func FuzzDecodeStream(f *testing.F) {
	f.Add("event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"model\":\"c\",\"usage\":{\"input_tokens\":3,\"output_tokens\":1}}}\n\n"+
		"event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"tool_use\",\"id\":\"t\",\"name\":\"f\",\"input\":{}}}\n\n"+
		"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{}\"}}\n\n"+
		"event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\"},\"usage\":{\"output_tokens\":5}}\n\n"+
		"event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n", false)
	f.Add("event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n", false)
	f.Add("data: {\"type\":\"content_block_delta\",\"index\":7,\"delta\":{}}\n\n", true)
	f.Fuzz(func(t *testing.T, in string, jsonMode bool) {
		st := DecodeStream(strings.NewReader(in), jsonMode)
		defer st.Close()
		usages := 0
		for range 100000 {
			ev, err := st.Next()
			if errors.Is(err, io.EOF) {
				if usages != 1 {
					t.Fatalf("stream ended cleanly with %d usage events, want 1", usages)
				}
				return
			}
			if err != nil {
				if k := llm.KindOf(err); k != llm.KindUpstream && k != llm.KindRateLimited && k != llm.KindTimeout && k != llm.KindCanceled {
					t.Fatalf("stream error of kind %v: %v", k, err)
				}
				return
			}
			if ev.Type == llm.EventUsage {
				usages++
			}
		}
		t.Fatal("stream did not end")
	})
}

func FuzzDecodeResponse(f *testing.F) {
	f.Add([]byte(`{"id":"m","type":"message","content":[{"type":"text","text":"hi"},{"type":"tool_use","id":"t","name":"json_output","input":{"a":1}}],"stop_reason":"tool_use","usage":{"input_tokens":1}}`))
	f.Add([]byte(`{"type":"error"}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		for _, jm := range []bool{false, true} {
			if _, err := DecodeResponse(in, jm); err != nil && llm.KindOf(err) != llm.KindUpstream {
				t.Fatalf("error of kind %v: %v", llm.KindOf(err), err)
			}
		}
	})
}
