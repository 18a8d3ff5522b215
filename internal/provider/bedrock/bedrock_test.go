package bedrock

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"

	"github.com/causeway-ai/causeway/internal/llm"
)

func frame(t testing.TB, kind, name, payload string) []byte {
	var msg eventstream.Message
	msg.Payload = []byte(payload)
	if kind == "exception" {
		msg.Headers.Set(":exception-type", eventstream.StringValue(name))
	} else {
		msg.Headers.Set(":event-type", eventstream.StringValue(name))
	}
	msg.Headers.Set(":content-type", eventstream.StringValue("application/json"))
	msg.Headers.Set(":message-type", eventstream.StringValue(kind))
	var b bytes.Buffer
	if err := eventstream.NewEncoder().Encode(&b, msg); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func seedStream(t testing.TB) []byte {
	var b []byte
	for _, f := range [][3]string{
		{"event", "messageStart", `{"role":"assistant"}`},
		{"event", "contentBlockDelta", `{"contentBlockIndex":0,"delta":{"text":"Hi"}}`},
		{"event", "contentBlockStart", `{"contentBlockIndex":1,"start":{"toolUse":{"toolUseId":"t","name":"f"}}}`},
		{"event", "contentBlockDelta", `{"contentBlockIndex":1,"delta":{"toolUse":{"input":"{}"}}}`},
		{"event", "contentBlockDelta", `{"contentBlockIndex":2,"delta":{"reasoningContent":{"redactedContent":"eA=="}}}`},
		{"event", "messageStop", `{"stopReason":"tool_use"}`},
		{"event", "metadata", `{"usage":{"inputTokens":1,"outputTokens":2,"totalTokens":3}}`},
	} {
		b = append(b, frame(t, f[0], f[1], f[2])...)
	}
	return b
}

func drain(t *testing.T, in []byte) ([]llm.Event, error) {
	st := DecodeStream(bytes.NewReader(in), false)
	defer st.Close()
	var evs []llm.Event
	for range 100000 {
		ev, err := st.Next()
		if errors.Is(err, io.EOF) {
			return evs, nil
		}
		if err != nil {
			return evs, err
		}
		evs = append(evs, ev)
	}
	t.Fatal("stream did not end")
	return nil, nil
}

func TestDecodeStreamOrderAndUsage(t *testing.T) {
	evs, err := drain(t, seedStream(t))
	if err != nil {
		t.Fatal(err)
	}
	var types []llm.EventType
	for _, ev := range evs {
		types = append(types, ev.Type)
	}
	want := []llm.EventType{llm.EventStart, llm.EventRole, llm.EventText, llm.EventToolCall, llm.EventToolCall,
		llm.EventRedactedReasoning, llm.EventFinish, llm.EventUsage}
	if len(types) != len(want) {
		t.Fatalf("event types %v, want %v", types, want)
	}
	for i := range want {
		if types[i] != want[i] {
			t.Fatalf("event types %v, want %v", types, want)
		}
	}
	if u := evs[len(evs)-1].Usage; u.InputTokens != 1 || u.OutputTokens != 2 {
		t.Errorf("usage %+v", u)
	}
	if evs[3].ToolCall.ID != "t" || evs[3].ToolCall.Name != "f" || evs[4].ToolCall.Arguments != "{}" {
		t.Errorf("tool events %+v %+v", evs[3], evs[4])
	}
}

func TestDecodeStreamBadFrames(t *testing.T) {
	good := seedStream(t)
	for name, in := range map[string][]byte{
		"bad message crc": func() []byte { b := bytes.Clone(good); b[len(b)-1] ^= 1; return b }(),
		"bad prelude crc": func() []byte { b := bytes.Clone(good); b[9] ^= 1; return b }(),
		"huge length":     append([]byte{0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0}, good...),
		"truncated":       good[:len(good)-7],
		"exception":       append(frame(t, "event", "messageStart", `{}`), frame(t, "exception", "validationException", `{"message":"bad"}`)...),
	} {
		_, err := drain(t, in)
		e, ok := errors.AsType[*llm.Error](err)
		if !ok {
			t.Fatalf("%s: err = %v, want an *llm.Error", name, err)
		}
		want := llm.KindUpstream
		if name == "exception" {
			want = llm.KindInvalid
		}
		if e.Kind != want {
			t.Errorf("%s: kind %v (%v), want %v", name, e.Kind, err, want)
		}
	}
}

func FuzzDecodeStream(f *testing.F) {
	good := seedStream(f)
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add(frame(f, "exception", "throttlingException", `{"message":"slow down"}`))
	f.Add(frame(f, "event", "contentBlockDelta", `{"contentBlockIndex":-1,"delta":{"toolUse":{"input":"x"}}}`))
	f.Add([]byte{0, 0, 0, 16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, in []byte) {
		_, err := drain(t, in)
		if err == nil {
			return
		}
		switch k := llm.KindOf(err); k {
		case llm.KindUpstream, llm.KindInvalid, llm.KindRateLimited, llm.KindUnavailable, llm.KindTimeout:
		default:
			t.Fatalf("stream error of kind %v: %v", k, err)
		}
	})
}

func FuzzDecodeResponse(f *testing.F) {
	f.Add([]byte(`{"output":{"message":{"role":"assistant","content":[{"text":"hi"},{"toolUse":{"toolUseId":"t","name":"f","input":{"a":1}}}]}},"stopReason":"tool_use","usage":{"inputTokens":1,"outputTokens":2}}`))
	f.Add([]byte(`{"output":{}}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		evs, err := DecodeResponse(in, "id", "m", false)
		if err != nil {
			if llm.KindOf(err) != llm.KindUpstream {
				t.Fatalf("error of kind %v: %v", llm.KindOf(err), err)
			}
			return
		}
		if len(evs) < 4 || evs[len(evs)-1].Type != llm.EventUsage || evs[len(evs)-2].Type != llm.EventFinish {
			t.Fatalf("events %+v do not end with finish and usage", evs)
		}
	})
}

func TestModelPath(t *testing.T) {
	got := ModelPath("us.anthropic.claude-sonnet-4-5-20250929-v1:0", "converse")
	if want := "/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/converse"; got != want {
		t.Fatalf("path %q, want %q", got, want)
	}
	if got := ModelPath("arn:aws:bedrock:us-east-1:1:inference-profile/x", "invoke"); !strings.Contains(got, "%2F") {
		t.Errorf("an ARN's '/' must be escaped: %q", got)
	}
}

func TestCredentialSources(t *testing.T) {
	env := map[string]string{"AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": "s", "AWS_SESSION_TOKEN": "tok"}
	c, ok := envCredentials(func(k string) string { return env[k] })
	if !ok || c.AccessKeyID != "AKID" || c.SessionToken != "tok" {
		t.Fatalf("env credentials %+v %v", c, ok)
	}
	if _, ok := envCredentials(func(string) string { return "" }); ok {
		t.Fatal("credentials from an empty environment")
	}
	path := filepath.Join(t.TempDir(), "credentials")
	if err := os.WriteFile(path, []byte("[default]\naws_access_key_id = D\naws_secret_access_key = DS\n\n[work]\n# comment\naws_access_key_id=W\naws_secret_access_key=WS\naws_session_token=WT\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{"AWS_SHARED_CREDENTIALS_FILE": path, "AWS_PROFILE": "work"}
	c, ok, err := sharedFileCredentials(func(k string) string { return vars[k] })
	if err != nil || !ok || c.AccessKeyID != "W" || c.SecretAccessKey != "WS" || c.SessionToken != "WT" {
		t.Fatalf("profile work: %+v %v %v", c, ok, err)
	}
	vals := parseProfile(bufio.NewScanner(strings.NewReader("[default]\naws_access_key_id = D\n")), "default")
	if vals["aws_access_key_id"] != "D" {
		t.Errorf("default profile %v", vals)
	}
}

// TestEncodeCanonicalOnlyFeatures covers what no OpenAI door request
// carries: thinking and top_k, cache points, reasoning replay and tool
// results that report errors.
func TestEncodeCanonicalOnlyFeatures(t *testing.T) {
	topK := 40
	req := &llm.Request{
		UpstreamModel: "anthropic.claude-3-7-sonnet-20250219-v1:0",
		TopK:          &topK,
		Thinking:      &llm.Thinking{Enabled: true, BudgetTokens: 2048},
		Messages: []llm.Message{
			{Role: llm.RoleSystem, Content: []llm.Part{{Type: llm.PartText, Text: "long system prompt", CacheControl: &llm.CacheControl{Type: "ephemeral"}}}},
			llm.TextMessage(llm.RoleUser, "Weather?"),
			{Role: llm.RoleAssistant, Content: []llm.Part{
				{Type: llm.PartThinking, Text: "I should call the tool.", Signature: "sig=="},
				{Type: llm.PartRedactedThinking, Data: "eA=="},
			}, ToolCalls: []llm.ToolCall{{ID: "tooluse_1", Name: "get_weather", Arguments: `{"city":"Paris"}`}}},
			{Role: llm.RoleTool, ToolCallID: "tooluse_1", IsError: true, Content: []llm.Part{{Type: llm.PartText, Text: "service down"}}},
		},
		Tools: []llm.Tool{{Name: "get_weather", Parameters: []byte(`{"type":"object"}`), CacheControl: &llm.CacheControl{Type: "ephemeral", TTL: "1h"}}},
	}
	body, jsonMode, err := EncodeRequest(req)
	if err != nil || jsonMode {
		t.Fatalf("encode: %v (json mode %v)", err, jsonMode)
	}
	for _, want := range []string{
		`"system":[{"text":"long system prompt"},{"cachePoint":{"type":"default"}}]`,
		`{"reasoningContent":{"reasoningText":{"text":"I should call the tool.","signature":"sig=="}}}`,
		`{"reasoningContent":{"redactedContent":"eA=="}}`,
		`{"toolUse":{"toolUseId":"tooluse_1","name":"get_weather","input":{"city":"Paris"}}}`,
		`{"toolResult":{"toolUseId":"tooluse_1","content":[{"text":"service down"}],"status":"error"}}`,
		`{"cachePoint":{"type":"default","ttl":"1h"}}`,
		`"additionalModelRequestFields":{"thinking":{"budget_tokens":2048,"type":"enabled"},"top_k":40}`,
	} {
		if !bytes.Contains(body, []byte(want)) {
			t.Errorf("body lacks %s\nbody: %s", want, body)
		}
	}

	req = &llm.Request{UpstreamModel: "amazon.nova-pro-v1:0", ReasoningEffort: "high", Messages: []llm.Message{llm.TextMessage(llm.RoleUser, "x")}}
	if _, _, err := EncodeRequest(req); llm.KindOf(err) != llm.KindInvalid {
		t.Errorf("reasoning_effort for a non-Anthropic model: err %v, want KindInvalid", err)
	}
	req = &llm.Request{UpstreamModel: "m", Messages: []llm.Message{{Role: llm.RoleUser, Content: []llm.Part{{Type: llm.PartAudio, Data: "AA==", Format: "wav"}}}}}
	if _, _, err := EncodeRequest(req); llm.KindOf(err) != llm.KindInvalid || !strings.Contains(err.Error(), "bedrock") {
		t.Errorf("audio part: err %v, want KindInvalid naming bedrock", err)
	}
	req = &llm.Request{UpstreamModel: "m", Extra: map[string]json.RawMessage{"guardrailConfig": []byte(`{"guardrailIdentifier":"g1","guardrailVersion":"1"}`)},
		ExtraFamily: Kind, Messages: []llm.Message{llm.TextMessage(llm.RoleUser, "x")}}
	if body, _, err := EncodeRequest(req); err != nil || !bytes.Contains(body, []byte(`"guardrailConfig":{"guardrailIdentifier":"g1","guardrailVersion":"1"}`)) {
		t.Errorf("guardrailConfig pass-through: %s, %v", body, err)
	}
	req.ExtraFamily = "openai"
	if body, _, _ := EncodeRequest(req); bytes.Contains(body, []byte("guardrailConfig")) {
		t.Errorf("another family's extra fields were passed to bedrock: %s", body)
	}
}
