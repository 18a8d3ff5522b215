package responses

import (
	"testing"

	"github.com/causeway-ai/causeway/internal/runtime"
	wire "github.com/causeway-ai/causeway/internal/schema/responses"
)

// FuzzCreate: any body either is refused by DecodeCreate with an error,
// or its input items normalise and convert to canonical messages (or are
// refused) without a panic.
func FuzzCreate(f *testing.F) {
	for _, s := range []string{
		`{"model":"m","input":"hi"}`,
		`{"model":"m","input":[{"role":"user","content":"hi"},{"type":"function_call","call_id":"a","name":"f","arguments":"{}"},{"type":"function_call_output","call_id":"a","output":"x"}]}`,
		`{"model":"m","input":[{"type":"reasoning","id":"rs_1","summary":[{"type":"summary_text","text":"t"}],"causeway":{"family":"anthropic","signature":"s"}},{"type":"message","role":"assistant","content":"a"}]}`,
		`{"model":"m","input":[{"type":"function_call","call_id":"a","name":"f","arguments":"{}"},{"type":"mcp_approval_request","id":"mcpr_1","server_label":"causeway","name":"f","arguments":"{}","causeway":{"call_id":"a"}},{"type":"mcp_approval_response","approval_request_id":"mcpr_1","approve":true},{"role":"user","content":"go"},{"type":"function_call_output","call_id":"a","output":"x"}]}`,
		`{"model":"m","input":[{"type":"compaction","id":"cmp_1","encrypted_content":"eyJ2IjoxLCJzdW1tYXJ5IjoicyJ9"}]}`,
		`{"model":"m","background":true,"tools":[{"type":"causeway","name":"t","require_approval":"always"}],"max_cost_usd":1}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		cp, err := DecodeCreate(body)
		if err != nil {
			return
		}
		items := make([]wire.Item, len(cp.Input))
		for i, it := range cp.Input {
			items[i] = runtime.Normalize(it)
		}
		_, _ = runtime.ToMessages(items)
	})
}
