package runtime

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/causeway-ai/causeway/internal/identity"
	"github.com/causeway-ai/causeway/internal/llm"
	wire "github.com/causeway-ai/causeway/internal/schema/responses"
)

func items(t *testing.T, js string) []wire.Item {
	t.Helper()
	var out []wire.Item
	if err := json.Unmarshal([]byte(js), &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestToMessages(t *testing.T) {
	in := items(t, `[
		{"type":"message","role":"developer","content":"be brief"},
		{"type":"message","role":"user","content":[{"type":"input_text","text":"look"},{"type":"input_image","image_url":"https://x/y.png"}]},
		{"type":"message","role":"assistant","content":[{"type":"output_text","text":"calling","annotations":[]}]},
		{"type":"function_call","call_id":"c1","name":"f","arguments":"{}"},
		{"type":"function_call","call_id":"c2","name":"g","arguments":"{\"a\":1}"},
		{"type":"function_call_output","call_id":"c1","output":"one"},
		{"type":"function_call_output","call_id":"c2","output":[{"type":"input_text","text":"two"}]}
	]`)
	if err := checkToolPairs(in, nil); err != nil {
		t.Fatalf("checkToolPairs: %v", err)
	}
	msgs, err := ToMessages(in)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 5 {
		t.Fatalf("got %d messages, want 5: %+v", len(msgs), msgs)
	}
	if msgs[0].Role != llm.RoleDeveloper || msgs[0].Text() != "be brief" {
		t.Errorf("developer message = %+v", msgs[0])
	}
	if len(msgs[1].Content) != 2 || msgs[1].Content[1].Type != llm.PartImage || msgs[1].Content[1].ImageURL != "https://x/y.png" {
		t.Errorf("user parts = %+v", msgs[1].Content)
	}
	if msgs[2].Role != llm.RoleAssistant || msgs[2].Text() != "calling" || len(msgs[2].ToolCalls) != 2 || msgs[2].ToolCalls[1].Arguments != `{"a":1}` {
		t.Errorf("assistant message with calls = %+v", msgs[2])
	}
	if msgs[3].Role != llm.RoleTool || msgs[3].ToolCallID != "c1" || msgs[3].ToolName != "f" || msgs[4].Text() != "two" {
		t.Errorf("tool messages = %+v, %+v", msgs[3], msgs[4])
	}
}

func TestCheckToolPairs(t *testing.T) {
	tests := []struct{ name, items, want string }{
		{"orphan output", `[{"type":"function_call_output","call_id":"c9","output":"x"}]`,
			"No tool call found for function call output with call_id c9."},
		{"output before call", `[{"type":"function_call_output","call_id":"c1","output":"x"},{"type":"function_call","call_id":"c1","name":"f","arguments":"{}"}]`,
			"No tool call found for function call output with call_id c1."},
		{"call without output", `[{"type":"function_call","call_id":"c1","name":"f","arguments":"{}"},{"type":"message","role":"user","content":"and?"}]`,
			"No tool output found for function call c1."},
	}
	for _, tc := range tests {
		err := checkToolPairs(items(t, tc.items), nil)
		if err == nil || llm.KindOf(err) != llm.KindInvalid || llm.AsError(err).Message != tc.want {
			t.Errorf("%s: %v, want invalid %q", tc.name, err, tc.want)
		}
	}
}

func TestNormalize(t *testing.T) {
	it := Normalize(wire.Item{Type: "message", Role: "user", Content: json.RawMessage(`"hi"`)})
	if !strings.HasPrefix(it.ID, "msg_") || it.Status != "completed" || string(it.Content) != `[{"type":"input_text","text":"hi"}]` {
		t.Errorf("Normalize = %+v (content %s)", it, it.Content)
	}
	fc := Normalize(wire.Item{Type: "function_call", CallID: "c", Name: "f"})
	if !strings.HasPrefix(fc.ID, "fc_") || fc.Arguments == nil {
		t.Errorf("Normalize function_call = %+v", fc)
	}
}

func TestOwnerOf(t *testing.T) {
	k := &identity.Key{ID: "key_1", User: "alice"}
	if o := OwnerOf(&identity.Principal{Tenant: "t", User: "alice", Key: k}); o.Tenant != "t" || o.Subject != "alice" {
		t.Errorf("OwnerOf(key with user) = %+v", o)
	}
	k2 := &identity.Key{ID: "key_2"}
	if o := OwnerOf(&identity.Principal{Tenant: "t", Key: k2}); o.Subject != "key_2" {
		t.Errorf("OwnerOf(key without user) = %+v, want the key's id", o)
	}
}

// TestPairOutputs: an output that comes a turn after its call (an
// approved call) is moved up to just after the calls; others stay.
func TestPairOutputs(t *testing.T) {
	in := items(t, `[
		{"type":"message","role":"user","content":"hi"},
		{"type":"function_call","call_id":"a","name":"f","arguments":"{}"},
		{"type":"function_call","call_id":"b","name":"g","arguments":"{}"},
		{"type":"function_call_output","call_id":"b","output":"B"},
		{"type":"mcp_approval_request","id":"mcpr_1","server_label":"causeway","name":"f","arguments":"{}"},
		{"type":"mcp_approval_response","approval_request_id":"mcpr_1","approve":true},
		{"type":"message","role":"user","content":"go on"},
		{"type":"function_call_output","call_id":"a","output":"A"}
	]`)
	var got []string
	for _, it := range pairOutputs(in) {
		got = append(got, it.Type+":"+it.CallID)
	}
	want := []string{"message:", "function_call:a", "function_call:b", "function_call_output:a", "function_call_output:b",
		"mcp_approval_request:", "mcp_approval_response:", "message:"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("pairOutputs = %v\nwant %v", got, want)
	}
	msgs, err := ToMessages(in)
	if err != nil {
		t.Fatal(err)
	}
	// user, assistant (2 calls), tool, tool, user
	if len(msgs) != 5 || msgs[2].Role != llm.RoleTool || msgs[3].Role != llm.RoleTool || msgs[4].Role != llm.RoleUser {
		t.Fatalf("messages = %+v", msgs)
	}
}
