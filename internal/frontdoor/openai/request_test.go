package openai

import (
	"testing"

	"github.com/causeway-ai/causeway/internal/llm"
)

func TestDecodeChatRequestFields(t *testing.T) {
	req, opts, err := DecodeChatRequest([]byte(`{"model":"m","stream":true,"stream_options":{"include_usage":true},
		"messages":[{"role":"user","content":[{"type":"text","text":"a"},{"type":"input_audio","input_audio":{"data":"AAA=","format":"wav"}}]}],
		"max_tokens":5,"max_completion_tokens":7,"tool_choice":"none","n":2,"x_extra":{"a":1}}`))
	if err != nil {
		t.Fatal(err)
	}
	if !opts.IncludeUsage || !req.Stream || req.MaxTokens != 7 || req.N != 2 {
		t.Errorf("got stream=%v include_usage=%v max=%d n=%d; want true true 7 2", req.Stream, opts.IncludeUsage, req.MaxTokens, req.N)
	}
	if req.ToolChoice == nil || req.ToolChoice.Mode != llm.ToolChoiceNone {
		t.Errorf("tool_choice = %+v, want none", req.ToolChoice)
	}
	if p := req.Messages[0].Content; len(p) != 2 || p[1].Type != llm.PartAudio || p[1].Format != "wav" {
		t.Errorf("content = %+v", p)
	}
	if string(req.Extra["x_extra"]) != `{"a":1}` || req.ExtraFamily != "openai" {
		t.Errorf("extra = %s (%s)", req.Extra, req.ExtraFamily)
	}
}

func FuzzDecodeChatRequest(f *testing.F) {
	f.Add([]byte(`{"model":"m","messages":[{"role":"user","content":"hi"}]}`))
	f.Add([]byte(`{"model":"m","messages":[{"role":"assistant","content":null,"tool_calls":[{"id":"1","type":"function","function":{"name":"f","arguments":"{}"}}]},{"role":"tool","tool_call_id":"1","content":"x"}],"tools":[{"type":"function","function":{"name":"f","parameters":{}}}],"tool_choice":{"type":"function","function":{"name":"f"}}}`))
	f.Add([]byte(`{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:x"}}]}],"stop":["a","b"],"response_format":{"type":"json_schema","json_schema":{"name":"n","schema":{}}}}`))
	f.Add([]byte(`{"model":1}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		req, _, err := DecodeChatRequest(body)
		if err != nil {
			if llm.KindOf(err) != llm.KindInvalid {
				t.Fatalf("decode error of kind %v, want invalid: %v", llm.KindOf(err), err)
			}
			return
		}
		if req.Model == "" || len(req.Messages) == 0 {
			t.Fatalf("accepted a request without model or messages: %s", body)
		}
	})
}

func FuzzDecodeEmbeddingRequest(f *testing.F) {
	f.Add([]byte(`{"model":"m","input":"x"}`))
	f.Add([]byte(`{"model":"m","input":["a","b"],"dimensions":3,"encoding_format":"base64"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := DecodeEmbeddingRequest(body)
		if err != nil {
			if llm.KindOf(err) != llm.KindInvalid {
				t.Fatalf("decode error of kind %v, want invalid: %v", llm.KindOf(err), err)
			}
			return
		}
		if req.Model == "" || len(req.Input) == 0 {
			t.Fatalf("accepted %s", body)
		}
	})
}
