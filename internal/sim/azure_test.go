package sim_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/tidwall/gjson"

	"github.com/causeway-ai/causeway/internal/sim"
)

// The official SDK's azure package (azure.WithEndpoint, azure.WithAPIKey)
// needs github.com/Azure/azure-sdk-for-go/sdk/azcore, which go.mod does not
// require. These clients send what it sends: the deployment route with
// api-version in the query and the key in the Api-Key header, or the v1
// surface with the deployment as the model.

const azureKey = "azure-test-key"

func newAzureSim(t *testing.T) (*sim.Sim, *httptest.Server) {
	t.Helper()
	s := sim.New(sim.Options{APIKey: azureKey})
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return s, srv
}

// azureDeploymentClient addresses one deployment with an api-version.
func azureDeploymentClient(srv *httptest.Server, deployment, version string, opts ...option.RequestOption) openai.Client {
	return openai.NewClient(append([]option.RequestOption{
		option.WithBaseURL(srv.URL + "/openai/deployments/" + deployment + "/"),
		option.WithQuery("api-version", version),
		option.WithHeader("Api-Key", azureKey),
		option.WithMaxRetries(0),
	}, opts...)...)
}

// azureV1Client speaks to the version-less v1 surface.
func azureV1Client(srv *httptest.Server, opts ...option.RequestOption) openai.Client {
	return openai.NewClient(append([]option.RequestOption{
		option.WithBaseURL(srv.URL + "/openai/v1/"),
		option.WithHeader("Api-Key", azureKey),
		option.WithMaxRetries(0),
	}, opts...)...)
}

func checkFilters(t *testing.T, raw string) {
	t.Helper()
	if v := gjson.Get(raw, "prompt_filter_results.0.content_filter_results.hate.severity").String(); v != "safe" {
		t.Errorf("prompt_filter_results missing: %s", raw)
	}
	if v := gjson.Get(raw, "choices.0.content_filter_results.violence.filtered"); !v.Exists() || v.Bool() {
		t.Errorf("content_filter_results missing: %s", raw)
	}
}

func TestAzureChatWhole(t *testing.T) {
	s, srv := newAzureSim(t)
	client := azureDeploymentClient(srv, "my-mini", "2024-10-21")
	resp, err := client.Chat.Completions.New(t.Context(), chatParams("ignored-model",
		openai.SystemMessage("You are terse."), openai.UserMessage("Hello there, simulator")))
	if err != nil {
		t.Fatal(err)
	}
	if resp.Choices[0].Message.Content == "" || resp.Choices[0].FinishReason != "stop" {
		t.Errorf("choice = %+v", resp.Choices[0])
	}
	if resp.Usage.PromptTokens != 14 {
		t.Errorf("prompt_tokens = %d, want 14", resp.Usage.PromptTokens)
	}
	checkFilters(t, resp.RawJSON())
	st := s.Stats()
	if st.Requests["my-mini"] != 1 || st.OutputTokens["my-mini"] != resp.Usage.CompletionTokens || st.InputTokens["my-mini"] != 14 {
		t.Errorf("stats = %+v, want the deployment my-mini counted", st)
	}
}

func TestAzureChatStream(t *testing.T) {
	s, srv := newAzureSim(t)
	client := azureDeploymentClient(srv, "my-mini", "2024-10-21")
	p := chatParams("ignored", openai.UserMessage("Stream to me"))
	p.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
	res := stream(t, client, p)
	if res.err != nil {
		t.Fatal(res.err)
	}
	first := res.chunks[0].RawJSON()
	if res.chunks[0].ID != "" || len(res.chunks[0].Choices) != 0 || !gjson.Get(first, "prompt_filter_results").IsArray() {
		t.Errorf("first chunk = %s, want Azure's prompt filter chunk", first)
	}
	filtered := 0
	for _, c := range res.chunks[1:] {
		if gjson.Get(c.RawJSON(), "choices.0.content_filter_results.hate").Exists() {
			filtered++
		}
	}
	if filtered != res.contentChunks || res.contentChunks < 20 {
		t.Errorf("%d of %d content chunks carry filter results", filtered, res.contentChunks)
	}
	text := res.acc.Choices[0].Message.Content
	if text == "" || res.acc.Usage.CompletionTokens != int64(res.contentChunks) || res.acc.Usage.PromptTokens != 4+3 {
		t.Errorf("text %q, usage %+v, %d content chunks", text, res.acc.Usage, res.contentChunks)
	}
	if st := s.Stats(); st.Completed["my-mini"] != 1 || st.OutputTokens["my-mini"] != res.acc.Usage.CompletionTokens {
		t.Errorf("stats = %+v", st)
	}
}

func TestAzureToolsStream(t *testing.T) {
	_, srv := newAzureSim(t)
	client := azureDeploymentClient(srv, "my-mini", "2025-04-01-preview")
	p := chatParams("x", openai.UserMessage("What is the weather in Paris?"))
	p.Tools = []openai.ChatCompletionToolUnionParam{openai.ChatCompletionFunctionTool(openai.FunctionDefinitionParam{
		Name: "get_weather",
		Parameters: openai.FunctionParameters{"type": "object", "properties": map[string]any{
			"city": map[string]any{"type": "string"}}, "required": []string{"city"}},
	})}
	res := stream(t, client, p)
	if res.err != nil {
		t.Fatal(res.err)
	}
	calls := res.acc.Choices[0].Message.ToolCalls
	if len(calls) != 1 || calls[0].Function.Name != "get_weather" || !json.Valid([]byte(calls[0].Function.Arguments)) || res.argChunks < 2 {
		t.Errorf("tool calls = %+v in %d argument chunks", calls, res.argChunks)
	}
	if res.acc.Choices[0].FinishReason != "tool_calls" {
		t.Errorf("finish_reason = %q", res.acc.Choices[0].FinishReason)
	}
}

func TestAzureV1(t *testing.T) {
	s, srv := newAzureSim(t)
	client := azureV1Client(srv)
	resp, err := client.Chat.Completions.New(t.Context(), chatParams("my-v1-deployment", openai.UserMessage("hi")))
	if err != nil {
		t.Fatal(err)
	}
	checkFilters(t, resp.RawJSON())
	p := chatParams("my-v1-deployment", openai.UserMessage("hi again"))
	p.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
	if res := stream(t, client, p); res.err != nil || res.acc.Usage.TotalTokens == 0 {
		t.Fatalf("stream: %v, usage %+v", res.err, res.acc.Usage)
	}
	// "preview" is accepted on v1; a dated version is not.
	preview := azureV1Client(srv, option.WithQuery("api-version", "preview"))
	if _, err := preview.Chat.Completions.New(t.Context(), chatParams("my-v1-deployment", openai.UserMessage("hi"))); err != nil {
		t.Errorf("api-version=preview on v1: %v", err)
	}
	dated := azureV1Client(srv, option.WithQuery("api-version", "2024-10-21"))
	_, err = dated.Chat.Completions.New(t.Context(), chatParams("my-v1-deployment", openai.UserMessage("hi")))
	if e := apiError(t, err, 400); !strings.Contains(e.RawJSON(), "API version not supported") {
		t.Errorf("error = %s", e.RawJSON())
	}
	if st := s.Stats(); st.Completed["my-v1-deployment"] != 3 {
		t.Errorf("stats = %+v", st)
	}
}

func TestAzureEmbeddings(t *testing.T) {
	s, srv := newAzureSim(t)
	for _, client := range []openai.Client{azureDeploymentClient(srv, "embed", "2024-10-21"), azureV1Client(srv)} {
		resp, err := client.Embeddings.New(t.Context(), openai.EmbeddingNewParams{
			Model: "embed",
			Input: openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: []string{"one two", "three"}},
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.Data) != 2 || len(resp.Data[0].Embedding) != 1536 || resp.Usage.PromptTokens != 3 {
			t.Errorf("embeddings: %d vectors, usage %+v", len(resp.Data), resp.Usage)
		}
	}
	if st := s.Stats(); st.Completed["embed"] != 2 || st.InputTokens["embed"] != 6 {
		t.Errorf("stats = %+v", st)
	}
}

func TestAzureErrors(t *testing.T) {
	s, srv := newAzureSim(t)
	msgs := chatParams("x", openai.UserMessage("hi"))

	noVersion := openai.NewClient(option.WithBaseURL(srv.URL+"/openai/deployments/d/"), option.WithHeader("Api-Key", azureKey), option.WithMaxRetries(0))
	_, err := noVersion.Chat.Completions.New(t.Context(), msgs)
	if e := apiError(t, err, 404); gjson.Get(e.RawJSON(), "message").String() != "Resource not found" || gjson.Get(e.RawJSON(), "code").String() != "404" {
		t.Errorf("no api-version: %s", e.RawJSON())
	}

	future := azureDeploymentClient(srv, "d", "2099-01-01")
	_, err = future.Chat.Completions.New(t.Context(), msgs)
	if e := apiError(t, err, 400); gjson.Get(e.RawJSON(), "code").String() != "BadRequest" {
		t.Errorf("unknown api-version: %s", e.RawJSON())
	}

	wrongKey := azureDeploymentClient(srv, "d", "2024-10-21", option.WithHeader("Api-Key", "nope"))
	_, err = wrongKey.Chat.Completions.New(t.Context(), msgs)
	if e := apiError(t, err, 401); gjson.Get(e.RawJSON(), "code").String() != "401" {
		t.Errorf("wrong key: %s", e.RawJSON())
	}

	entra := openai.NewClient(option.WithBaseURL(srv.URL+"/openai/deployments/d/"), option.WithQuery("api-version", "2024-10-21"),
		option.WithAPIKey(azureKey), option.WithMaxRetries(0))
	if _, err := entra.Chat.Completions.New(t.Context(), msgs); err != nil {
		t.Errorf("Entra bearer token: %v", err)
	}

	ok := azureDeploymentClient(srv, "d", "2024-10-21")
	_, err = ok.Chat.Completions.New(t.Context(), chatParams("x", openai.UserMessage("please causeway-sim-filter this")))
	if e := apiError(t, err, 400); e.Code != "content_filter" || gjson.Get(e.RawJSON(), "innererror.code").String() != "ResponsibleAIPolicyViolation" {
		t.Errorf("content filter: %s", e.RawJSON())
	}

	old := chatParams("x", openai.UserMessage("hi"))
	old.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
	res := stream(t, azureDeploymentClient(srv, "d", "2024-06-01"), old)
	if e := apiError(t, res.err, 400); !strings.Contains(e.Message, "stream_options") {
		t.Errorf("stream_options on 2024-06-01: %s", e.RawJSON())
	}

	addFault(t, srv, `{"model":"limited","status":429,"retry_after_s":3}`)
	req, _ := http.NewRequestWithContext(t.Context(), "POST", srv.URL+"/openai/deployments/limited/chat/completions?api-version=2024-10-21",
		strings.NewReader(`{"messages":[{"role":"user","content":"hi"}]}`))
	req.Header.Set("Api-Key", azureKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "3" || resp.Header.Get("Retry-After-Ms") != "3000" {
		t.Errorf("429 fault: %d, Retry-After %q, Retry-After-Ms %q", resp.StatusCode, resp.Header.Get("Retry-After"), resp.Header.Get("Retry-After-Ms"))
	}
	if st := s.Stats(); st.Requests["limited"] != 1 || st.Completed["limited"] != 0 {
		t.Errorf("stats = %+v", st)
	}
}
