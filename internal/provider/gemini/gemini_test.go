package gemini

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/causeway-ai/causeway/internal/llm"
	"github.com/causeway-ai/causeway/internal/provider/upstream"
	wire "github.com/causeway-ai/causeway/internal/schema/gemini"
	"github.com/causeway-ai/causeway/internal/sim"
)

func FuzzDecodeStream(f *testing.F) {
	f.Add("data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"hi\"},{\"functionCall\":{\"name\":\"f\",\"args\":{}},\"thoughtSignature\":\"c2ln\"}]},\"finishReason\":\"STOP\"}],\"usageMetadata\":{\"promptTokenCount\":1}}\r\n\r\n")
	f.Add("data: {\"error\":{\"code\":500,\"message\":\"boom\"}}\n\n")
	f.Add("data: {\"candidates\":[{\"index\":99}]}\n\n")
	f.Add("data: {\"promptFeedback\":{\"blockReason\":\"SAFETY\"}}\n\ndata: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"x\"}]}}]}\n\n")
	f.Add("data: [1,2]\n\ndata: {\"candidates\":[{\"content\":{\"parts\":[{\"thought\":true,\"text\":\"t\"}]},\"finishReason\":\"MAX_TOKENS\",\"index\":1}]}\n\n")
	f.Fuzz(func(t *testing.T, in string) {
		st := DecodeStream(strings.NewReader(in))
		defer st.Close()
		checkEvents(t, st)
	})
}

func FuzzDecodeResponse(f *testing.F) {
	f.Add(`{"candidates":[{"content":{"parts":[{"text":"hi"}]},"finishReason":"SAFETY","safetyRatings":[{}]}],"usageMetadata":{"promptTokenCount":1,"thoughtsTokenCount":2}}`)
	f.Add(`{"candidates":[{"content":{"parts":[{"functionCall":{"id":"a","name":"f","args":null}}]},"finishReason":"STOP","index":3}]}`)
	f.Add(`{"error":{"code":400}}`)
	f.Fuzz(func(t *testing.T, in string) {
		evs, err := DecodeResponse([]byte(in))
		if err != nil {
			if k := llm.KindOf(err); k != llm.KindUpstream {
				t.Fatalf("error of kind %v: %v", k, err)
			}
			return
		}
		checkEvents(t, upstream.Events(evs))
	})
}

func FuzzDecodeError(f *testing.F) {
	f.Add(429, `{"error":{"code":429,"message":"m","status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"3s"}]}}`)
	f.Add(500, `[{"error":{"code":500}}]`)
	f.Fuzz(func(t *testing.T, status int, body string) {
		e := DecodeError("g", status, http.Header{}, []byte(body))
		if e.Message == "" || e.Kind == llm.KindInternal {
			t.Fatalf("got %+v", e)
		}
	})
}

// checkEvents reads st to its end and checks the canonical order: Start
// first, Role before a choice's content, nothing for a choice after its
// Finish, Usage once and last.
func checkEvents(t *testing.T, st llm.Stream) {
	t.Helper()
	roles, finished := map[int]bool{}, map[int]bool{}
	usage := false
	for i := 0; i < 100000; i++ {
		ev, err := st.Next()
		if errors.Is(err, io.EOF) {
			if len(roles) != len(finished) {
				t.Fatalf("clean end with roles %v and finishes %v", roles, finished)
			}
			return
		}
		if err != nil {
			if k := llm.KindOf(err); k != llm.KindUpstream && k != llm.KindTimeout && k != llm.KindCanceled {
				t.Fatalf("stream error of kind %v: %v", k, err)
			}
			return
		}
		if usage {
			t.Fatalf("event %+v after usage", ev)
		}
		switch ev.Type {
		case llm.EventStart:
			if i != 0 {
				t.Fatalf("start at %d", i)
			}
		case llm.EventRole:
			roles[ev.Choice] = true
		case llm.EventUsage:
			usage = true
		default:
			if !roles[ev.Choice] || finished[ev.Choice] {
				t.Fatalf("event %+v outside its choice's role…finish", ev)
			}
			if ev.Type == llm.EventFinish {
				finished[ev.Choice] = true
			}
		}
	}
	t.Fatal("stream did not end")
}

func decodeBody(t *testing.T, req *llm.Request) wire.GenerateContentRequest {
	t.Helper()
	b, err := EncodeChatRequest(req)
	if err != nil {
		t.Fatal(err)
	}
	var w wire.GenerateContentRequest
	if err := json.Unmarshal(b, &w); err != nil {
		t.Fatal(err)
	}
	return w
}

func TestToolResultName(t *testing.T) {
	call := func(id, name string) llm.Message {
		return llm.Message{Role: llm.RoleAssistant, ToolCalls: []llm.ToolCall{{ID: id, Name: name, Arguments: "{}"}}}
	}
	req := &llm.Request{Messages: []llm.Message{
		llm.TextMessage(llm.RoleUser, "go"),
		call("call_0", "first"),
		{Role: llm.RoleTool, ToolCallID: "call_0", Content: []llm.Part{{Type: llm.PartText, Text: "1"}}},
		call("call_0", "second"),
		{Role: llm.RoleTool, ToolCallID: "call_0", Content: []llm.Part{{Type: llm.PartText, Text: "2"}}},
		call("x", "third"),
		{Role: llm.RoleTool, ToolCallID: "x", ToolName: "named", IsError: true, Content: []llm.Part{{Type: llm.PartText, Text: "3"}}},
	}}
	w := decodeBody(t, req)
	var got []string
	for _, c := range w.Contents {
		for _, p := range c.Parts {
			if fr := p.FunctionResponse; fr != nil {
				got = append(got, fr.Name+"="+string(fr.Response)+" id="+fr.ID)
			}
		}
	}
	want := []string{`first={"result":"1"} id=`, `second={"result":"2"} id=`, `named={"error":"3"} id=x`}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("responses %q, want %q", got, want)
	}
}

func TestThoughtSignatureRoundTrip(t *testing.T) {
	sig := base64.StdEncoding.EncodeToString([]byte{0xfb, 0xff, 0x01, 0x02})
	id := joinID("", sig)
	if strings.ContainsAny(id, "+/=") {
		t.Errorf("id %q has characters outside base64url", id)
	}
	up, back := splitID("call_3" + id)
	if up != "" || back != sig {
		t.Errorf("split = %q, %q; want \"\", %q", up, back, sig)
	}
	if up, _ := splitID("fc-9"); up != "fc-9" {
		t.Errorf("an upstream id came back as %q", up)
	}
}

func TestVertexModelsURL(t *testing.T) {
	for _, tc := range []struct{ base, version, project, region, want string }{
		{"", "", "my-proj", "us-central1", "https://us-central1-aiplatform.googleapis.com/v1/projects/my-proj/locations/us-central1/publishers/google/models/"},
		{"", "v1beta1", "p", "global", "https://aiplatform.googleapis.com/v1beta1/projects/p/locations/global/publishers/google/models/"},
		{"http://127.0.0.1:9/", "", "p", "europe-west4", "http://127.0.0.1:9/v1/projects/p/locations/europe-west4/publishers/google/models/"},
	} {
		if got := VertexModelsURL(tc.base, tc.version, tc.project, tc.region); got != tc.want {
			t.Errorf("VertexModelsURL(%q, %q, %q, %q) = %q, want %q", tc.base, tc.version, tc.project, tc.region, got, tc.want)
		}
	}
	for _, tc := range []struct{ base, version, want string }{
		{"", "", "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:generateContent"},
		{"https://generativelanguage.googleapis.com/v1/", "", "https://generativelanguage.googleapis.com/v1/models/gemini-2.5-flash:generateContent"},
		{"http://proxy.local/gemini", "v1alpha", "http://proxy.local/gemini/v1alpha/models/gemini-2.5-flash:generateContent"},
	} {
		p, err := New(Config{Name: "g", BaseURL: tc.base, APIVersion: tc.version})
		if err != nil {
			t.Fatal(err)
		}
		if got := p.MethodURL("gemini-2.5-flash", "generateContent"); got != tc.want {
			t.Errorf("base %q version %q: MethodURL = %q, want %q", tc.base, tc.version, got, tc.want)
		}
	}
}

// TestVertex runs Vertex mode against a token endpoint that checks the
// signed JWT, and the simulator's Vertex route, which requires the token.
func TestVertex(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	var exchanges atomic.Int32
	tokenSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil || r.Form.Get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer" {
			http.Error(w, `{"error":"unsupported_grant_type"}`, 400)
			return
		}
		parts := strings.Split(r.Form.Get("assertion"), ".")
		if len(parts) != 3 {
			http.Error(w, `{"error":"invalid_grant"}`, 400)
			return
		}
		sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
		sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
		if rsa.VerifyPKCS1v15(&key.PublicKey, crypto.SHA256, sum[:], sig) != nil {
			http.Error(w, `{"error":"invalid_grant","error_description":"Invalid JWT Signature."}`, 400)
			return
		}
		var claims map[string]any
		cb, _ := base64.RawURLEncoding.DecodeString(parts[1])
		if json.Unmarshal(cb, &claims) != nil || claims["iss"] != "sa@p.iam.gserviceaccount.com" || claims["scope"] != vertexScope {
			http.Error(w, `{"error":"invalid_grant"}`, 400)
			return
		}
		exchanges.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"access_token":"ya29.sim","expires_in":3599,"token_type":"Bearer"}`))
	}))
	t.Cleanup(tokenSrv.Close)
	der, _ := x509.MarshalPKCS8PrivateKey(key)
	sa, _ := json.Marshal(map[string]string{
		"type": "service_account", "client_email": "sa@p.iam.gserviceaccount.com", "private_key_id": "k1",
		"private_key": string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})), "token_uri": tokenSrv.URL,
	})
	credentials := filepath.Join(t.TempDir(), "sa.json")
	if err := os.WriteFile(credentials, sa, 0o600); err != nil {
		t.Fatal(err)
	}

	s := sim.New(sim.Options{APIKey: "ya29.sim"})
	simSrv := httptest.NewServer(s)
	t.Cleanup(simSrv.Close)
	p, err := New(Config{Name: "vertex", BaseURL: simSrv.URL, Vertex: &VertexConfig{Project: "p", Region: "us-central1", CredentialsFile: credentials}})
	if err != nil {
		t.Fatal(err)
	}
	for _, stream := range []bool{false, true} {
		st, err := p.Chat(t.Context(), &llm.Request{UpstreamModel: "gemini-2.5-flash", Stream: stream,
			Messages: []llm.Message{llm.TextMessage(llm.RoleUser, "Hello Vertex")}})
		if err != nil {
			t.Fatalf("chat (stream %v): %v", stream, err)
		}
		var text strings.Builder
		var usage llm.Usage
		for {
			ev, err := st.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			text.WriteString(ev.Text)
			if ev.Type == llm.EventUsage {
				usage = ev.Usage
			}
		}
		st.Close()
		if text.Len() == 0 || usage.InputTokens != 6 || usage.OutputTokens == 0 {
			t.Errorf("stream %v: text %q, usage %+v", stream, text.String(), usage)
		}
	}
	if n := exchanges.Load(); n != 1 {
		t.Errorf("%d token exchanges, want 1 (the token is cached)", n)
	}
	if st := s.Stats(); st.Completed["gemini-2.5-flash"] != 2 {
		t.Errorf("simulator completed %d, want 2", st.Completed["gemini-2.5-flash"])
	}
}

func TestEncodeThinking(t *testing.T) {
	sig := base64.StdEncoding.EncodeToString([]byte("sig"))
	req := &llm.Request{
		Thinking: &llm.Thinking{Enabled: true, BudgetTokens: 2048},
		Messages: []llm.Message{
			llm.TextMessage(llm.RoleUser, "q"),
			{Role: llm.RoleAssistant, Content: []llm.Part{
				{Type: llm.PartThinking, Text: "hmm", Signature: sig},
				{Type: llm.PartThinking, Text: "unsigned"},
				{Type: llm.PartRedactedThinking, Data: "opaque"},
				{Type: llm.PartText, Text: "a"},
			}},
			llm.TextMessage(llm.RoleUser, "q2"),
		},
	}
	w := decodeBody(t, req)
	tc := w.GenerationConfig.ThinkingConfig
	if tc == nil || !tc.IncludeThoughts || tc.ThinkingBudget == nil || *tc.ThinkingBudget != 2048 {
		t.Errorf("thinkingConfig = %+v, want includeThoughts and a 2048 budget", tc)
	}
	parts := w.Contents[1].Parts
	if len(parts) != 2 || !parts[0].Thought || parts[0].ThoughtSignature != sig || parts[1].Text != "a" {
		t.Errorf("model parts = %+v, want the signed thought then the text", parts)
	}

	req.Thinking = &llm.Thinking{}
	if w := decodeBody(t, req); *w.GenerationConfig.ThinkingConfig.ThinkingBudget != 0 {
		t.Errorf("disabled thinking: budget %d, want 0", *w.GenerationConfig.ThinkingConfig.ThinkingBudget)
	}
	req.Thinking, req.ReasoningEffort = nil, "extreme"
	if _, err := EncodeChatRequest(req); llm.KindOf(err) != llm.KindInvalid {
		t.Errorf("reasoning_effort extreme: %v, want KindInvalid", err)
	}
}

func TestEncodeInvalid(t *testing.T) {
	user := llm.TextMessage(llm.RoleUser, "q")
	for name, req := range map[string]*llm.Request{
		"system image": {Messages: []llm.Message{{Role: llm.RoleSystem, Content: []llm.Part{{Type: llm.PartImage, ImageURL: "data:image/png;base64,AA=="}}}, user}},
		"http image":   {Messages: []llm.Message{{Role: llm.RoleUser, Content: []llm.Part{{Type: llm.PartImage, ImageURL: "http://x/y.png"}}}}},
		"bad data url": {Messages: []llm.Message{{Role: llm.RoleUser, Content: []llm.Part{{Type: llm.PartImage, ImageURL: "data:image/png,raw"}}}}},
		"only system":  {Messages: []llm.Message{llm.TextMessage(llm.RoleSystem, "s")}},
		"bad args":     {Messages: []llm.Message{user, {Role: llm.RoleAssistant, ToolCalls: []llm.ToolCall{{ID: "c", Name: "f", Arguments: "[1]"}}}}},
		"unknown tool": {Messages: []llm.Message{user, {Role: llm.RoleTool, ToolCallID: "zz", Content: []llm.Part{{Type: llm.PartText, Text: "1"}}}}},
	} {
		if _, err := EncodeChatRequest(req); llm.KindOf(err) != llm.KindInvalid || !strings.Contains(err.Error(), "gemini") {
			t.Errorf("%s: %v, want KindInvalid naming gemini", name, err)
		}
	}
}
