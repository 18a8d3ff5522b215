package anthropic

import (
	"net/http"
	"strings"
	"testing"

	"github.com/causeway-ai/causeway/internal/llm"
	"github.com/causeway-ai/causeway/internal/tokens"
)

func TestDecodeMessagesRequestFields(t *testing.T) {
	req, err := DecodeMessagesRequest([]byte(`{"model":"m","max_tokens":4000,"stream":true,
		"system":[{"type":"text","text":"A","cache_control":{"type":"ephemeral","ttl":"1h"}},{"type":"text","text":"B"}],
		"messages":[
			{"role":"user","content":[{"type":"text","text":"look"},{"type":"image","source":{"type":"base64","media_type":"image/jpeg","data":"/9j/"}},{"type":"document","source":{"type":"base64","media_type":"application/pdf","data":"JVBE"},"cache_control":{"type":"ephemeral"}}]},
			{"role":"assistant","content":[{"type":"thinking","thinking":"hm","signature":"s1"},{"type":"redacted_thinking","data":"r1"},{"type":"tool_use","id":"toolu_1","name":"f","input":{"a":1}}]},
			{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","is_error":true,"content":[{"type":"text","text":"bad"},{"type":"image","source":{"type":"url","url":"https://x/y.png"}}]},{"type":"text","text":"next"}]},
			{"role":"assistant","content":"prefill"}],
		"tools":[{"name":"f","description":"d","input_schema":{"type":"object"},"cache_control":{"type":"ephemeral"}}],
		"tool_choice":{"type":"any","disable_parallel_tool_use":true},
		"thinking":{"type":"enabled","budget_tokens":2048},
		"top_k":5,"stop_sequences":["X"],"metadata":{"user_id":"u"},
		"service_tier":"auto","container":"c1"}`))
	if err != nil {
		t.Fatal(err)
	}
	if !req.Stream || req.MaxTokens != 4000 || req.User != "u" || *req.TopK != 5 || req.Stop[0] != "X" {
		t.Errorf("scalars: %+v", req)
	}
	if req.Thinking == nil || !req.Thinking.Enabled || req.Thinking.BudgetTokens != 2048 {
		t.Errorf("thinking = %+v", req.Thinking)
	}
	if req.ToolChoice.Mode != llm.ToolChoiceRequired || req.ParallelToolCalls == nil || *req.ParallelToolCalls {
		t.Errorf("tool_choice = %+v, parallel %v", req.ToolChoice, req.ParallelToolCalls)
	}
	if len(req.Tools) != 1 || req.Tools[0].CacheControl == nil || string(req.Tools[0].Parameters) != `{"type":"object"}` {
		t.Errorf("tools = %+v", req.Tools)
	}
	if req.ExtraFamily != Family || string(req.Extra["service_tier"]) != `"auto"` || string(req.Extra["container"]) != `"c1"` || len(req.Extra) != 2 {
		t.Errorf("extra = %s (%s)", req.Extra, req.ExtraFamily)
	}
	roles := []llm.Role{}
	for _, m := range req.Messages {
		roles = append(roles, m.Role)
	}
	want := []llm.Role{llm.RoleSystem, llm.RoleUser, llm.RoleAssistant, llm.RoleTool, llm.RoleUser, llm.RoleAssistant}
	if len(roles) != len(want) {
		t.Fatalf("roles = %v, want %v", roles, want)
	}
	for i := range want {
		if roles[i] != want[i] {
			t.Fatalf("roles = %v, want %v", roles, want)
		}
	}
	sys := req.Messages[0]
	if len(sys.Content) != 2 || sys.Content[0].CacheControl == nil || sys.Content[0].CacheControl.TTL != "1h" || sys.Content[1].CacheControl != nil {
		t.Errorf("system = %+v", sys)
	}
	u := req.Messages[1].Content
	if u[1].Type != llm.PartImage || u[1].ImageURL != "data:image/jpeg;base64,/9j/" || u[1].MediaType != "image/jpeg" {
		t.Errorf("image = %+v", u[1])
	}
	if u[2].Type != llm.PartFile || u[2].MediaType != "application/pdf" || u[2].Data != "JVBE" || u[2].CacheControl == nil {
		t.Errorf("document = %+v", u[2])
	}
	a := req.Messages[2]
	if a.Content[0].Type != llm.PartThinking || a.Content[0].Signature != "s1" || a.Content[1].Type != llm.PartRedactedThinking || a.Content[1].Data != "r1" {
		t.Errorf("assistant content = %+v", a.Content)
	}
	if len(a.ToolCalls) != 1 || a.ToolCalls[0].Arguments != `{"a":1}` || a.ToolCalls[0].ID != "toolu_1" {
		t.Errorf("tool calls = %+v", a.ToolCalls)
	}
	tm := req.Messages[3]
	if tm.ToolCallID != "toolu_1" || tm.ToolName != "f" || !tm.IsError || len(tm.Content) != 2 || tm.Content[1].ImageURL != "https://x/y.png" {
		t.Errorf("tool message = %+v", tm)
	}
	if p := req.Messages[5]; p.Text() != "prefill" {
		t.Errorf("prefill = %+v", p)
	}
}

func TestExtraHeaders(t *testing.T) {
	h := http.Header{}
	h.Set("Anthropic-Beta", "a-1")
	h.Add("Anthropic-Beta", "b-2")
	h.Set("Anthropic-Version", "2023-06-01")
	h.Set("X-Api-Key", "secret")
	got := ExtraHeaders(h)
	if len(got) != 1 || got["anthropic-beta"] != "a-1,b-2" {
		t.Errorf("extra headers = %v, want only anthropic-beta", got)
	}
}

func TestDecodeMessagesRequestRejects(t *testing.T) {
	for _, body := range []string{
		`[]`,
		`{"model":"m","max_tokens":1,"messages":[]}`,
		`{"model":"m","max_tokens":1,"messages":[{"role":"user","content":null}]}`,
		`{"model":"m","max_tokens":1,"messages":[{"role":"user","content":5}]}`,
		`{"model":"m","max_tokens":1,"messages":[{"role":"user","content":[{"type":"tool_use","id":"a","name":"b","input":{}}]}]}`,
		`{"model":"m","max_tokens":1,"messages":[{"role":"user","content":[{"type":"image","source":{"type":"base64","media_type":"image/bmp","data":"x"}}]}]}`,
		`{"model":"m","max_tokens":1,"messages":[{"role":"user","content":[{"type":"server_tool_use","id":"a","name":"web_search"}]}]}`,
		`{"model":"m","max_tokens":1,"messages":[{"role":"user","content":"x"}],"tool_choice":{"type":"tool","name":"f"}}`,
		`{"model":"m","max_tokens":1,"messages":[{"role":"user","content":"x"}],"tools":[{"name":"f"}]}`,
		`{"model":"m","max_tokens":1000,"messages":[{"role":"user","content":"x"}],"thinking":{"type":"enabled","budget_tokens":2000}}`,
		`{"model":"m","max_tokens":1,"messages":[{"role":"user","content":"x"}],"top_p":2}`,
		`{"model":"m","max_tokens":1,"messages":[{"role":"user","content":"x"}],"system":[{"type":"image"}]}`,
	} {
		if _, err := DecodeMessagesRequest([]byte(body)); llm.KindOf(err) != llm.KindInvalid {
			t.Errorf("%s: error %v, want invalid", body, err)
		}
	}
}

func TestCountTokensOffline(t *testing.T) {
	// The tokenizer must come from the tables compiled in: any network
	// access fails the test.
	saved := http.DefaultTransport
	http.DefaultTransport = roundTripFunc(func(r *http.Request) (*http.Response, error) {
		t.Errorf("tokenizer went to the network: %s", r.URL)
		return nil, http.ErrNotSupported
	})
	t.Cleanup(func() { http.DefaultTransport = saved })
	req, err := decode([]byte(`{"model":"m","messages":[{"role":"user","content":"Hello, world"}]}`), true)
	if err != nil {
		t.Fatal(err)
	}
	a, err := CountTokens(req)
	if err != nil {
		t.Fatal(err)
	}
	// "Hello, world" is 3 tokens in o200k_base, plus the message framing.
	if a != 3+tokens.PerMessage {
		t.Errorf("count = %d, want %d", a, 3+tokens.PerMessage)
	}
	req.Messages[0].Content[0].Text = strings.Repeat("Hello, world ", 100)
	if b, _ := CountTokens(req); b <= 100 {
		t.Errorf("count of a long message = %d", b)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func FuzzDecodeMessagesRequest(f *testing.F) {
	f.Add([]byte(`{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}`))
	f.Add([]byte(`{"model":"m","max_tokens":5,"system":[{"type":"text","text":"s","cache_control":{"type":"ephemeral"}}],"messages":[{"role":"user","content":[{"type":"text","text":"a"},{"type":"image","source":{"type":"url","url":"https://x"}}]},{"role":"assistant","content":[{"type":"tool_use","id":"t","name":"f","input":{}}]},{"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":[{"type":"text","text":"r"}]}]}],"tools":[{"name":"f","input_schema":{"type":"object"}}],"tool_choice":{"type":"tool","name":"f"}}`))
	f.Add([]byte(`{"model":"m","max_tokens":5000,"thinking":{"type":"enabled","budget_tokens":1024},"messages":[{"role":"assistant","content":[{"type":"thinking","thinking":"x","signature":"y"},{"type":"redacted_thinking","data":"z"}]}]}`))
	f.Add([]byte(`{"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"document","source":{"type":"text","data":"d"}}]}],"x":{"y":1}}`))
	f.Add([]byte(`{"model":1}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, countOnly := range []bool{false, true} {
			req, err := decode(body, countOnly)
			if err != nil {
				if llm.KindOf(err) != llm.KindInvalid {
					t.Fatalf("decode error of kind %v, want invalid: %v", llm.KindOf(err), err)
				}
				continue
			}
			if req.Model == "" || len(req.Messages) == 0 || (!countOnly && req.MaxTokens < 1) {
				t.Fatalf("accepted a request without model, messages or max_tokens: %s", body)
			}
			for _, m := range req.Messages {
				if m.Role == llm.RoleTool && (m.ToolCallID == "" || m.ToolName == "") {
					t.Fatalf("tool message without its call: %+v", m)
				}
			}
			if _, err := CountTokens(req); err != nil {
				t.Fatal(err)
			}
		}
	})
}
