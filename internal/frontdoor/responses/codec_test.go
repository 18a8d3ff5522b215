package responses

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/causeway-ai/causeway/internal/llm"
)

func TestDecodeCreate(t *testing.T) {
	cp, err := DecodeCreate([]byte(`{"model":"m","input":"hi","conversation":{"id":"conv_1"},"tool_choice":{"type":"function","name":"f"},
		"tools":[{"type":"function","name":"f","parameters":{}}],"text":{"format":{"type":"json_schema","name":"s","schema":{"type":"object"}}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(cp.Input) != 1 || cp.Input[0].Role != "user" || cp.ConversationID != "conv_1" {
		t.Errorf("DecodeCreate = %+v", cp)
	}
	cp, err = DecodeCreate([]byte(`{"model":"m","input":[{"role":"user","content":"easy"},{"type":"item_reference","id":"msg_1"}]}`))
	if err != nil || len(cp.Input) != 2 || cp.Input[0].Type != "message" || cp.Input[1].Type != "item_reference" {
		t.Errorf("DecodeCreate items = %+v, %v", cp, err)
	}
}

func TestDecodeCreateInvalid(t *testing.T) {
	tests := []struct{ body, want string }{
		{`{"model":"m","input":[{"type":"web_search_call"}]}`, "not supported yet"},
		{`{"model":"m","input":[{"type":"message","role":"tool","content":"x"}]}`, "Invalid value: 'tool'"},
		{`{"model":"m","input":[{"type":"message","role":"user","content":[{"type":"input_audio"}]}]}`, "not supported yet"},
		{`{"model":"m","input":[{"type":"function_call","call_id":"c","arguments":"{}"}]}`, "name"},
		{`{"model":"m","tools":[{"type":"mcp"}]}`, "Tool type 'mcp' is not supported yet"},
		{`{"model":"m","tool_choice":"sometimes"}`, "Invalid value: 'sometimes'"},
		{`{"model":"m","text":{"format":{"type":"json_schema"}}}`, "text.format.name"},
		{`{"model":"m","background":true,"store":false}`, "requires 'store' to be true"},
		{`{"model":"m","metadata":{"k":"` + strings.Repeat("v", 513) + `"}}`, "string too long"},
		{`{"model":"m","input":42}`, "expected a string or an array"},
	}
	for _, tc := range tests {
		_, err := DecodeCreate([]byte(tc.body))
		if err == nil || llm.KindOf(err) != llm.KindInvalid || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("DecodeCreate(%s) = %v, want invalid mentioning %q", tc.body, err, tc.want)
		}
	}
}

func TestDecodeItemsLimit(t *testing.T) {
	raws := make([]json.RawMessage, 21)
	for i := range raws {
		raws[i] = json.RawMessage(`{"role":"user","content":"x"}`)
	}
	if _, err := DecodeItems(raws[:20]); err != nil {
		t.Errorf("20 items: %v, want accepted", err)
	}
	if _, err := DecodeItems(raws); err == nil || !strings.Contains(err.Error(), "maximum length 20") {
		t.Errorf("21 items: %v, want refused", err)
	}
}
