package sim_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"google.golang.org/genai"

	"github.com/causeway-ai/causeway/internal/sim"
)

// newGemini starts a simulator and the official Gemini SDK pointed at it.
func newGemini(t *testing.T, opts sim.Options) (*sim.Sim, *httptest.Server, *genai.Client) {
	t.Helper()
	s := sim.New(opts)
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	key := opts.APIKey
	if key == "" {
		key = "gemini-test"
	}
	c, err := genai.NewClient(t.Context(), &genai.ClientConfig{
		APIKey: key, Backend: genai.BackendGeminiAPI,
		HTTPOptions: genai.HTTPOptions{BaseURL: srv.URL},
	})
	if err != nil {
		t.Fatal(err)
	}
	return s, srv, c
}

func TestGeminiGenerateContent(t *testing.T) {
	s, _, c := newGemini(t, sim.Options{APIKey: "k1"})
	cfg := &genai.GenerateContentConfig{SystemInstruction: genai.NewContentFromText("Be brief.", genai.RoleUser)}
	resp, err := c.Models.GenerateContent(t.Context(), "gemini-2.5-flash", genai.Text("Hello there"), cfg)
	if err != nil {
		t.Fatalf("generate: %v", err)
	}
	if resp.Text() == "" || len(resp.Candidates) != 1 || resp.Candidates[0].FinishReason != genai.FinishReasonStop {
		t.Fatalf("got %+v, want one STOP candidate with text", resp.Candidates)
	}
	u := resp.UsageMetadata
	// Σ 4 + words: system "Be brief." (2) and user "Hello there" (2).
	if u.PromptTokenCount != 12 || u.CandidatesTokenCount < 20 || u.TotalTokenCount != u.PromptTokenCount+u.CandidatesTokenCount {
		t.Errorf("usage = %+v, want prompt 12 and ≥ 20 candidates", u)
	}
	again, err := c.Models.GenerateContent(t.Context(), "gemini-2.5-flash", genai.Text("Hello there"), cfg)
	if err != nil || again.Text() != resp.Text() {
		t.Errorf("second answer %q (%v), want the same %q", again.Text(), err, resp.Text())
	}
	st := s.Stats()
	if st.Completed["gemini-2.5-flash"] != 2 || st.InputTokens["gemini-2.5-flash"] != 24 || st.OutputTokens["gemini-2.5-flash"] != 2*int64(u.CandidatesTokenCount) {
		t.Errorf("stats = %+v", st)
	}

	capped, err := c.Models.GenerateContent(t.Context(), "gemini-2.5-flash", genai.Text("Hello there"),
		&genai.GenerateContentConfig{MaxOutputTokens: 3})
	if err != nil {
		t.Fatal(err)
	}
	if capped.Candidates[0].FinishReason != genai.FinishReasonMaxTokens || capped.UsageMetadata.CandidatesTokenCount != 3 {
		t.Errorf("capped: finish %q, %d tokens; want MAX_TOKENS, 3", capped.Candidates[0].FinishReason, capped.UsageMetadata.CandidatesTokenCount)
	}
}

func TestGeminiStream(t *testing.T) {
	_, _, c := newGemini(t, sim.Options{})
	whole, err := c.Models.GenerateContent(t.Context(), "gemini-2.5-flash", genai.Text("Stream please"), nil)
	if err != nil {
		t.Fatal(err)
	}
	var text strings.Builder
	events := 0
	var last *genai.GenerateContentResponse
	for resp, err := range c.Models.GenerateContentStream(t.Context(), "gemini-2.5-flash", genai.Text("Stream please"), nil) {
		if err != nil {
			t.Fatalf("stream: %v", err)
		}
		events++
		text.WriteString(resp.Text())
		last = resp
	}
	if text.String() != whole.Text() {
		t.Errorf("streamed %q, want %q", text.String(), whole.Text())
	}
	if events != int(whole.UsageMetadata.CandidatesTokenCount) {
		t.Errorf("%d events, want one per token (%d)", events, whole.UsageMetadata.CandidatesTokenCount)
	}
	if last.Candidates[0].FinishReason != genai.FinishReasonStop || last.UsageMetadata.CandidatesTokenCount != whole.UsageMetadata.CandidatesTokenCount {
		t.Errorf("last event = %+v, want STOP with the full usage", last)
	}
}

var geminiWeather = &genai.FunctionDeclaration{
	Name:        "get_weather",
	Description: "Weather for a city",
	Parameters: &genai.Schema{
		Type: genai.TypeObject,
		Properties: map[string]*genai.Schema{
			"city":  {Type: genai.TypeString},
			"units": {Type: genai.TypeString, Enum: []string{"celsius", "fahrenheit"}},
		},
		Required: []string{"city"},
	},
}

func TestGeminiFunctionCalling(t *testing.T) {
	_, _, c := newGemini(t, sim.Options{})
	cfg := &genai.GenerateContentConfig{Tools: []*genai.Tool{{FunctionDeclarations: []*genai.FunctionDeclaration{geminiWeather}}}}
	contents := genai.Text("Weather in Paris?")
	resp, err := c.Models.GenerateContent(t.Context(), "gemini-2.5-flash", contents, cfg)
	if err != nil {
		t.Fatal(err)
	}
	calls := resp.FunctionCalls()
	if len(calls) != 1 || calls[0].Name != "get_weather" {
		t.Fatalf("calls = %+v, want get_weather", calls)
	}
	if _, ok := calls[0].Args["city"].(string); !ok || calls[0].Args["units"] != "celsius" {
		t.Errorf("args = %v, want a string city and units celsius", calls[0].Args)
	}
	if resp.Candidates[0].FinishReason != genai.FinishReasonStop {
		t.Errorf("finish = %q, want STOP", resp.Candidates[0].FinishReason)
	}

	// Streamed: the call comes whole in one event.
	n := 0
	for resp, err := range c.Models.GenerateContentStream(t.Context(), "gemini-2.5-flash", contents, cfg) {
		if err != nil {
			t.Fatal(err)
		}
		n += len(resp.FunctionCalls())
	}
	if n != 1 {
		t.Errorf("streamed %d calls, want 1", n)
	}

	// The result goes back in a user turn.
	contents = append(contents, resp.Candidates[0].Content,
		genai.NewContentFromFunctionResponse("get_weather", map[string]any{"result": "21C and sunny"}, genai.RoleUser))
	final, err := c.Models.GenerateContent(t.Context(), "gemini-2.5-flash", contents, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := final.Text(), "The tool returned: 21C and sunny."; got != want {
		t.Errorf("answer %q, want %q", got, want)
	}

	// Mode NONE answers in text.
	none := *cfg
	none.ToolConfig = &genai.ToolConfig{FunctionCallingConfig: &genai.FunctionCallingConfig{Mode: genai.FunctionCallingConfigModeNone}}
	resp, err = c.Models.GenerateContent(t.Context(), "gemini-2.5-flash", genai.Text("Weather in Paris?"), &none)
	if err != nil || len(resp.FunctionCalls()) != 0 || resp.Text() == "" {
		t.Errorf("mode NONE: %v, calls %v", err, resp.FunctionCalls())
	}
}

func TestGeminiJSONSchema(t *testing.T) {
	_, _, c := newGemini(t, sim.Options{})
	for name, cfg := range map[string]*genai.GenerateContentConfig{
		"responseSchema": {ResponseMIMEType: "application/json", ResponseSchema: &genai.Schema{Type: genai.TypeObject,
			Properties: map[string]*genai.Schema{"name": {Type: genai.TypeString}, "age": {Type: genai.TypeInteger}}, Required: []string{"name", "age"}}},
		"responseJsonSchema": {ResponseMIMEType: "application/json", ResponseJsonSchema: map[string]any{"type": "object",
			"properties": map[string]any{"name": map[string]any{"type": "string"}, "age": map[string]any{"type": "integer"}}, "required": []string{"name", "age"}}},
	} {
		t.Run(name, func(t *testing.T) {
			resp, err := c.Models.GenerateContent(t.Context(), "gemini-2.5-flash", genai.Text("A person"), cfg)
			if err != nil {
				t.Fatal(err)
			}
			var v struct {
				Name *string  `json:"name"`
				Age  *float64 `json:"age"`
			}
			if err := json.Unmarshal([]byte(resp.Text()), &v); err != nil || v.Name == nil || v.Age == nil {
				t.Errorf("answer %q (%v), want a JSON object with name and age", resp.Text(), err)
			}
		})
	}
}

func TestGeminiEmbedContent(t *testing.T) {
	s, srv, c := newGemini(t, sim.Options{})
	dims := int32(8)
	resp, err := c.Models.EmbedContent(t.Context(), "gemini-embedding-001",
		[]*genai.Content{genai.NewContentFromText("one two", genai.RoleUser), genai.NewContentFromText("three", genai.RoleUser)},
		&genai.EmbedContentConfig{OutputDimensionality: &dims})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Embeddings) != 2 || len(resp.Embeddings[0].Values) != 8 {
		t.Fatalf("embeddings = %+v, want 2 of 8 dimensions", resp.Embeddings)
	}
	if st := s.Stats(); st.InputTokens["gemini-embedding-001"] != 3 {
		t.Errorf("input tokens = %d, want 3", st.InputTokens["gemini-embedding-001"])
	}
	// The single-input method gives the same vector.
	r, err := http.Post(srv.URL+"/v1beta/models/gemini-embedding-001:embedContent?key=x", "application/json",
		strings.NewReader(`{"content":{"parts":[{"text":"one two"}]},"outputDimensionality":8}`))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	var one struct {
		Embedding struct{ Values []float32 } `json:"embedding"`
	}
	if err := json.NewDecoder(r.Body).Decode(&one); err != nil || len(one.Embedding.Values) != 8 || one.Embedding.Values[3] != resp.Embeddings[0].Values[3] {
		t.Errorf("embedContent = %+v (%v), want the batch's first vector", one, err)
	}
}

func TestGeminiCountTokensAndModels(t *testing.T) {
	_, _, c := newGemini(t, sim.Options{})
	ct, err := c.Models.CountTokens(t.Context(), "gemini-2.5-flash", genai.Text("one two three"), nil)
	if err != nil || ct.TotalTokens != 7 {
		t.Errorf("countTokens = %+v (%v), want 7", ct, err)
	}
	m, err := c.Models.Get(t.Context(), "gemini-2.5-flash", nil)
	if err != nil || m.Name != "models/gemini-2.5-flash" {
		t.Errorf("get model = %+v (%v)", m, err)
	}
	page, err := c.Models.List(t.Context(), nil)
	if err != nil || len(page.Items) == 0 {
		t.Errorf("list models: %d (%v)", len(page.Items), err)
	}
}

func TestGeminiErrorsAndFaults(t *testing.T) {
	s, srv, c := newGemini(t, sim.Options{APIKey: "right"})
	bad, err := genai.NewClient(t.Context(), &genai.ClientConfig{APIKey: "wrong", Backend: genai.BackendGeminiAPI,
		HTTPOptions: genai.HTTPOptions{BaseURL: srv.URL}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = bad.Models.GenerateContent(t.Context(), "gemini-2.5-flash", genai.Text("hi"), nil)
	if ae, ok := errors.AsType[genai.APIError](err); !ok || ae.Code != 400 || ae.Status != "INVALID_ARGUMENT" {
		t.Errorf("wrong key: %v, want 400 INVALID_ARGUMENT", err)
	}

	s.AddFault(sim.Fault{Model: "gemini-2.5-flash", Status: 429, RetryAfterS: 7, Count: 1})
	_, err = c.Models.GenerateContent(t.Context(), "gemini-2.5-flash", genai.Text("hi"), nil)
	if ae, ok := errors.AsType[genai.APIError](err); !ok || ae.Code != 429 || ae.Status != "RESOURCE_EXHAUSTED" {
		t.Errorf("429 fault: %v, want 429 RESOURCE_EXHAUSTED", err)
	}

	s.AddFault(sim.Fault{Model: "gemini-2.5-flash", CutAfterChunks: 2, Count: 1})
	var streamErr error
	for _, err := range c.Models.GenerateContentStream(t.Context(), "gemini-2.5-flash", genai.Text("hi"), nil) {
		if err != nil {
			streamErr = err
			break
		}
	}
	if streamErr == nil {
		t.Error("cut stream: no error")
	}

	s.AddFault(sim.Fault{Model: "gemini-2.5-flash", Malformed: true, Count: 1})
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
		strings.NewReader(`{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}`))
	req.Header.Set("x-goog-api-key", "right")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "<<<simulated malformed chunk>>>") {
		t.Errorf("malformed stream = %q, want the garbage event", body)
	}
	if st := s.Stats(); st.Completed["gemini-2.5-flash"] != 0 || st.Requests["gemini-2.5-flash"] != 3 {
		t.Errorf("stats = %+v, want 3 requests, none completed", st)
	}
}

// FuzzGeminiRequest feeds arbitrary bodies to the Gemini routes: the
// simulator must answer each with a Gemini-shaped status, never panic.
func FuzzGeminiRequest(f *testing.F) {
	f.Add(uint8(0), `{"contents":[{"role":"user","parts":[{"text":"hi"}]}],"tools":[{"functionDeclarations":[{"name":"f","parameters":{"type":"OBJECT","properties":{"a":{"type":"STRING"}}}}]}],"toolConfig":{"functionCallingConfig":{"mode":"ANY","allowedFunctionNames":["f"]}}}`)
	f.Add(uint8(1), `{"contents":[{"parts":[{"functionResponse":{"name":"f","response":{"result":"x"}}}]}],"generationConfig":{"maxOutputTokens":2,"stopSequences":["a"],"responseMimeType":"application/json","responseJsonSchema":{"$ref":"#/$defs/x","$defs":{"x":{"type":"array"}}}}}`)
	f.Add(uint8(2), `{"requests":[{"model":"models/m","content":{"parts":[{"text":"a b"}]},"outputDimensionality":4}]}`)
	f.Add(uint8(3), `{"content":{"parts":[{"text":"a"}]},"outputDimensionality":0}`)
	f.Add(uint8(4), `{"generateContentRequest":{"contents":[{"parts":[{"text":"a"}]}]}}`)
	s := sim.New(sim.Options{})
	methods := []string{"generateContent", "streamGenerateContent?alt=sse", "batchEmbedContents", "embedContent", "countTokens"}
	f.Fuzz(func(t *testing.T, m uint8, body string) {
		method := methods[int(m)%len(methods)]
		req := httptest.NewRequest(http.MethodPost, "/v1beta/models/m:"+method, strings.NewReader(body))
		w := httptest.NewRecorder()
		s.ServeHTTP(w, req)
		if w.Code != 200 && (w.Code < 400 || w.Code > 499) {
			t.Fatalf("status %d for %s %q", w.Code, method, body)
		}
		if w.Code != 200 {
			var eb struct {
				Error struct {
					Code   int
					Status string
				}
			}
			if err := json.Unmarshal(w.Body.Bytes(), &eb); err != nil || eb.Error.Code != w.Code || eb.Error.Status == "" {
				t.Fatalf("error body %q for status %d", w.Body.Bytes(), w.Code)
			}
		}
	})
}

func TestGeminiThinking(t *testing.T) {
	s, _, c := newGemini(t, sim.Options{})
	budget := int32(8)
	cfg := &genai.GenerateContentConfig{ThinkingConfig: &genai.ThinkingConfig{IncludeThoughts: true, ThinkingBudget: &budget}}
	resp, err := c.Models.GenerateContent(t.Context(), "gemini-2.5-pro", genai.Text("Think first"), cfg)
	if err != nil {
		t.Fatal(err)
	}
	parts := resp.Candidates[0].Content.Parts
	if len(parts) != 2 || !parts[0].Thought || parts[0].Text == "" || parts[1].Thought {
		t.Fatalf("parts = %+v, want a thought then the answer", parts)
	}
	u := resp.UsageMetadata
	if u.ThoughtsTokenCount != 8 || u.TotalTokenCount != u.PromptTokenCount+u.CandidatesTokenCount+u.ThoughtsTokenCount {
		t.Errorf("usage = %+v, want 8 thoughts outside the candidates", u)
	}
	if st := s.Stats(); st.OutputTokens["gemini-2.5-pro"] != int64(u.CandidatesTokenCount+u.ThoughtsTokenCount) {
		t.Errorf("stats output %d, want candidates + thoughts", st.OutputTokens["gemini-2.5-pro"])
	}

	// A thinking function call carries a signature, which must come back.
	cfg.Tools = []*genai.Tool{{FunctionDeclarations: []*genai.FunctionDeclaration{geminiWeather}}}
	contents := genai.Text("Weather in Paris?")
	resp, err = c.Models.GenerateContent(t.Context(), "gemini-2.5-pro", contents, cfg)
	if err != nil {
		t.Fatal(err)
	}
	model := resp.Candidates[0].Content
	var call *genai.Part
	for _, p := range model.Parts {
		if p.FunctionCall != nil {
			call = p
			break
		}
	}
	if call == nil || len(call.ThoughtSignature) == 0 {
		t.Fatalf("parts = %+v, want a function call with a thought signature", model.Parts)
	}
	result := genai.NewContentFromFunctionResponse("get_weather", map[string]any{"result": "21C"}, genai.RoleUser)
	if _, err := c.Models.GenerateContent(t.Context(), "gemini-2.5-pro", append(contents, model, result), cfg); err != nil {
		t.Errorf("replay with the signature: %v", err)
	}
	call.ThoughtSignature = nil
	_, err = c.Models.GenerateContent(t.Context(), "gemini-2.5-pro", append(contents, model, result), cfg)
	if ae, ok := errors.AsType[genai.APIError](err); !ok || ae.Code != 400 || !strings.Contains(ae.Message, "thought_signature") {
		t.Errorf("replay without the signature: %v, want a 400 about thought_signature", err)
	}
}
