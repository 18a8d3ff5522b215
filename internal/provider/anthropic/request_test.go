package anthropic

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/causeway-ai/causeway/internal/llm"
)

// TestEncodeCanonicalOnly covers what the OpenAI door cannot express but
// other doors (Anthropic's own) can: cache_control, thinking replay,
// tool errors, inline image data, top_k and an explicit thinking budget.
func TestEncodeCanonicalOnly(t *testing.T) {
	eph := &llm.CacheControl{Type: "ephemeral", TTL: "1h"}
	topK := 5
	req := &llm.Request{
		UpstreamModel: "claude-3-haiku-20240307",
		TopK:          &topK,
		Thinking:      &llm.Thinking{Enabled: true, BudgetTokens: 2048},
		Messages: []llm.Message{
			{Role: llm.RoleSystem, Content: []llm.Part{{Type: llm.PartText, Text: "sys", CacheControl: eph}}},
			{Role: llm.RoleUser, Content: []llm.Part{{Type: llm.PartText, Text: "look"}, {Type: llm.PartImage, Data: "AAAA", MediaType: "image/jpeg"}}},
			{Role: llm.RoleAssistant,
				Content: []llm.Part{
					{Type: llm.PartThinking, Text: "hmm", Signature: "sig"},
					{Type: llm.PartThinking, Text: "unsigned, from another family"},
					{Type: llm.PartRedactedThinking, Data: "enc"},
				},
				ToolCalls: []llm.ToolCall{{ID: "toolu_1", Name: "f", Arguments: ""}}},
			{Role: llm.RoleTool, ToolCallID: "toolu_1", IsError: true, Content: []llm.Part{{Type: llm.PartText, Text: "boom", CacheControl: eph}}},
		},
		Tools: []llm.Tool{{Name: "f", CacheControl: eph}},
	}
	b, err := EncodeRequest(req)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	_ = json.Unmarshal(b, &got)
	for _, want := range []string{
		`"max_tokens":6144`, // 4096 for Claude 3 Haiku + the thinking budget
		`"top_k":5`,
		`"thinking":{"type":"enabled","budget_tokens":2048}`,
		`"system":[{"type":"text","text":"sys","cache_control":{"type":"ephemeral","ttl":"1h"}}]`,
		`{"type":"image","source":{"type":"base64","media_type":"image/jpeg","data":"AAAA"}}`,
		`{"type":"thinking","thinking":"hmm","signature":"sig"},{"type":"redacted_thinking","data":"enc"},{"type":"tool_use","id":"toolu_1","name":"f","input":{}}`,
		`{"type":"tool_result","tool_use_id":"toolu_1","content":"boom","is_error":true,"cache_control":{"type":"ephemeral","ttl":"1h"}}`,
		`"tools":[{"name":"f","input_schema":{"type":"object","properties":{}},"cache_control":{"type":"ephemeral","ttl":"1h"}}]`,
	} {
		if !strings.Contains(string(b), want) {
			t.Errorf("body lacks %s:\n%s", want, b)
		}
	}
	if strings.Contains(string(b), "another family") {
		t.Errorf("unsigned reasoning was replayed: %s", b)
	}
}

func TestEncodeRefusals(t *testing.T) {
	user := []llm.Message{llm.TextMessage(llm.RoleUser, "x")}
	for _, tc := range []struct {
		name  string
		req   llm.Request
		param string
	}{
		{"file id", llm.Request{Messages: []llm.Message{{Role: llm.RoleUser, Content: []llm.Part{{Type: llm.PartFile, FileID: "file-1"}}}}}, "messages[0].content[0]"},
		{"docx", llm.Request{Messages: []llm.Message{{Role: llm.RoleUser, Content: []llm.Part{{Type: llm.PartFile, Data: "AA", Filename: "a.docx"}}}}}, "messages[0].content[0]"},
		{"ftp image", llm.Request{Messages: []llm.Message{{Role: llm.RoleUser, Content: []llm.Part{{Type: llm.PartImage, ImageURL: "ftp://x"}}}}}, "messages[0].content[0]"},
		{"json with thinking", llm.Request{Messages: user, ReasoningEffort: "low", ResponseFormat: &llm.ResponseFormat{Type: llm.FormatJSONObject}}, "response_format"},
		{"json with tool_choice none", llm.Request{Messages: user, Tools: []llm.Tool{{Name: "f"}}, ToolChoice: &llm.ToolChoice{Mode: llm.ToolChoiceNone}, ResponseFormat: &llm.ResponseFormat{Type: llm.FormatJSONObject}}, "response_format"},
		{"reserved tool name", llm.Request{Messages: user, Tools: []llm.Tool{{Name: JSONToolName}}, ResponseFormat: &llm.ResponseFormat{Type: llm.FormatJSONObject}}, "tools"},
		{"unknown effort", llm.Request{Messages: user, ReasoningEffort: "extreme"}, "reasoning_effort"},
		{"tool result without id", llm.Request{Messages: []llm.Message{{Role: llm.RoleTool, Content: []llm.Part{{Type: llm.PartText, Text: "r"}}}}}, "messages[0].tool_call_id"},
	} {
		_, err := EncodeRequest(&tc.req)
		e, ok := err.(*llm.Error)
		if !ok || e.Kind != llm.KindInvalid || e.Param != tc.param || !strings.Contains(e.Message, "anthropic") && tc.name != "tool result without id" {
			t.Errorf("%s: err = %v, want KindInvalid on %s", tc.name, err, tc.param)
		}
	}
}
