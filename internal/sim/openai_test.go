package sim_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/shared"

	"github.com/causeway-ai/causeway/internal/sim"
)

// newSim starts a simulator and an official SDK client pointed at it.
func newSim(t *testing.T, opts sim.Options) (*sim.Sim, *httptest.Server, openai.Client) {
	t.Helper()
	s := sim.New(opts)
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	key := opts.APIKey
	if key == "" {
		key = "sk-test"
	}
	client := openai.NewClient(
		option.WithBaseURL(srv.URL+"/v1/"),
		option.WithAPIKey(key),
		option.WithMaxRetries(0),
	)
	return s, srv, client
}

func chatParams(model string, msgs ...openai.ChatCompletionMessageParamUnion) openai.ChatCompletionNewParams {
	return openai.ChatCompletionNewParams{Model: model, Messages: msgs}
}

// streamResult is what a streamed answer came to.
type streamResult struct {
	acc           openai.ChatCompletionAccumulator
	chunks        []openai.ChatCompletionChunk
	contentChunks int
	argChunks     int
	err           error
}

func stream(t *testing.T, client openai.Client, p openai.ChatCompletionNewParams) streamResult {
	t.Helper()
	return streamCtx(t.Context(), t, client, p)
}

func streamCtx(ctx context.Context, t *testing.T, client openai.Client, p openai.ChatCompletionNewParams) streamResult {
	t.Helper()
	var res streamResult
	st := client.Chat.Completions.NewStreaming(ctx, p)
	defer st.Close()
	for st.Next() {
		chunk := st.Current()
		if !res.acc.AddChunk(chunk) {
			t.Fatalf("accumulator rejected chunk %d: %s", len(res.chunks), chunk.RawJSON())
		}
		res.chunks = append(res.chunks, chunk)
		for _, c := range chunk.Choices {
			if c.Delta.Content != "" {
				res.contentChunks++
			}
			for _, tc := range c.Delta.ToolCalls {
				if tc.Function.Arguments != "" {
					res.argChunks++
				}
			}
		}
	}
	res.err = st.Err()
	return res
}

func TestChatWhole(t *testing.T) {
	s, _, client := newSim(t, sim.Options{})
	resp, err := client.Chat.Completions.New(t.Context(), chatParams("gpt-4o",
		openai.SystemMessage("You are terse."),
		openai.UserMessage("Hello there, simulator")))
	if err != nil {
		t.Fatal(err)
	}
	if resp.Object != "chat.completion" || resp.Model != "gpt-4o" || !strings.HasPrefix(resp.ID, "chatcmpl-") {
		t.Errorf("object, model, id = %q, %q, %q", resp.Object, resp.Model, resp.ID)
	}
	if resp.SystemFingerprint == "" || resp.Created == 0 {
		t.Errorf("system_fingerprint %q, created %d", resp.SystemFingerprint, resp.Created)
	}
	if len(resp.Choices) != 1 {
		t.Fatalf("got %d choices, want 1", len(resp.Choices))
	}
	ch := resp.Choices[0]
	if ch.FinishReason != "stop" || ch.Message.Role != "assistant" || ch.Message.Content == "" {
		t.Errorf("choice = %+v", ch)
	}
	u := resp.Usage
	// 2 messages × 4 + "You are terse." (3) + "Hello there, simulator" (3).
	if u.PromptTokens != 14 {
		t.Errorf("prompt_tokens = %d, want 14", u.PromptTokens)
	}
	if u.CompletionTokens < 20 || u.CompletionTokens > 28 {
		t.Errorf("completion_tokens = %d, want 20..28", u.CompletionTokens)
	}
	if u.TotalTokens != u.PromptTokens+u.CompletionTokens {
		t.Errorf("total_tokens = %d, want %d", u.TotalTokens, u.PromptTokens+u.CompletionTokens)
	}
	if !u.PromptTokensDetails.JSON.CachedTokens.Valid() || !u.CompletionTokensDetails.JSON.ReasoningTokens.Valid() {
		t.Errorf("usage details missing: %s", u.RawJSON())
	}

	// Deterministic: the same request gets the same answer.
	again, err := client.Chat.Completions.New(t.Context(), chatParams("gpt-4o",
		openai.SystemMessage("You are terse."),
		openai.UserMessage("Hello there, simulator")))
	if err != nil {
		t.Fatal(err)
	}
	if again.Choices[0].Message.Content != ch.Message.Content || again.ID == resp.ID {
		t.Errorf("second answer %q (id %s), want %q with a new id", again.Choices[0].Message.Content, again.ID, ch.Message.Content)
	}
	// … and another conversation gets another.
	other, err := client.Chat.Completions.New(t.Context(), chatParams("gpt-4o", openai.UserMessage("Something else")))
	if err != nil {
		t.Fatal(err)
	}
	if other.Choices[0].Message.Content == ch.Message.Content {
		t.Errorf("different prompts got the same answer %q", ch.Message.Content)
	}

	st := s.Stats()
	if st.Requests["gpt-4o"] != 3 || st.Completed["gpt-4o"] != 3 {
		t.Errorf("stats = %+v, want 3 requests and 3 completed", st)
	}
	want := resp.Usage.CompletionTokens + again.Usage.CompletionTokens + other.Usage.CompletionTokens
	if st.OutputTokens["gpt-4o"] != want {
		t.Errorf("output_tokens = %d, want %d", st.OutputTokens["gpt-4o"], want)
	}
}

func TestChatStream(t *testing.T) {
	s, _, client := newSim(t, sim.Options{})
	p := chatParams("gpt-4o-mini", openai.UserMessage("Tell me a story"))
	whole, err := client.Chat.Completions.New(t.Context(), p)
	if err != nil {
		t.Fatal(err)
	}
	s.ResetStats()

	p.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
	res := stream(t, client, p)
	if res.err != nil {
		t.Fatal(res.err)
	}
	first := res.chunks[0]
	if first.Choices[0].Delta.Role != "assistant" || !first.Choices[0].Delta.JSON.Content.Valid() || first.Choices[0].Delta.Content != "" {
		t.Errorf("first chunk = %s, want role assistant and empty content", first.RawJSON())
	}
	for i, c := range res.chunks {
		if c.ID != first.ID || !strings.HasPrefix(c.ID, "chatcmpl-") || c.Object != "chat.completion.chunk" ||
			c.Model != "gpt-4o-mini" || c.SystemFingerprint == "" || c.Created == 0 {
			t.Errorf("chunk %d = %s", i, c.RawJSON())
		}
	}
	last := res.chunks[len(res.chunks)-1]
	if len(last.Choices) != 0 || !last.JSON.Usage.Valid() {
		t.Errorf("last chunk = %s, want no choices and usage", last.RawJSON())
	}
	fin := res.chunks[len(res.chunks)-2]
	if fin.Choices[0].FinishReason != "stop" {
		t.Errorf("finish chunk = %s", fin.RawJSON())
	}
	u := res.acc.Usage
	if u.CompletionTokens != int64(res.contentChunks) {
		t.Errorf("completion_tokens = %d, content chunks = %d", u.CompletionTokens, res.contentChunks)
	}
	// One chunk per token, as the whole answer counted them.
	if u.CompletionTokens != whole.Usage.CompletionTokens || u.PromptTokens != whole.Usage.PromptTokens {
		t.Errorf("stream usage %+v, whole usage %+v", u, whole.Usage)
	}
	if got := res.acc.Choices[0].Message.Content; got != whole.Choices[0].Message.Content {
		t.Errorf("streamed content %q, whole content %q", got, whole.Choices[0].Message.Content)
	}
	st := s.Stats()
	if st.Completed["gpt-4o-mini"] != 1 || st.OutputTokens["gpt-4o-mini"] != u.CompletionTokens ||
		st.InputTokens["gpt-4o-mini"] != u.PromptTokens {
		t.Errorf("stats = %+v, want 1 completed with usage %+v", st, u)
	}
}

func TestChatStreamWithoutUsage(t *testing.T) {
	_, _, client := newSim(t, sim.Options{})
	res := stream(t, client, chatParams("m", openai.UserMessage("hi")))
	if res.err != nil {
		t.Fatal(res.err)
	}
	for _, c := range res.chunks {
		if len(c.Choices) == 0 || c.JSON.Usage.Valid() {
			t.Errorf("chunk %s: usage without include_usage", c.RawJSON())
		}
	}
}

func TestMaxTokensAndStop(t *testing.T) {
	_, _, client := newSim(t, sim.Options{})
	p := chatParams("gpt-4o", openai.UserMessage("Count to ten"))
	full, err := client.Chat.Completions.New(t.Context(), p)
	if err != nil {
		t.Fatal(err)
	}
	text := full.Choices[0].Message.Content

	capped := p
	capped.MaxCompletionTokens = openai.Int(5)
	resp, err := client.Chat.Completions.New(t.Context(), capped)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Choices[0].FinishReason != "length" || resp.Usage.CompletionTokens != 5 ||
		!strings.HasPrefix(text, resp.Choices[0].Message.Content) {
		t.Errorf("capped: finish %q, tokens %d, content %q (full %q)", resp.Choices[0].FinishReason,
			resp.Usage.CompletionTokens, resp.Choices[0].Message.Content, text)
	}

	legacy := p
	legacy.MaxTokens = openai.Int(3)
	res := stream(t, client, legacy)
	if res.err != nil {
		t.Fatal(res.err)
	}
	if res.contentChunks != 3 || res.acc.Choices[0].FinishReason != "length" {
		t.Errorf("streamed max_tokens 3: %d content chunks, finish %q", res.contentChunks, res.acc.Choices[0].FinishReason)
	}

	// Stop at the sixth word: the answer is the text before it.
	words := strings.Fields(text)
	stopAt := strings.Index(text, " "+words[5])
	stopped := p
	stopped.Stop = openai.ChatCompletionNewParamsStopUnion{OfStringArray: []string{"never-there", " " + words[5]}}
	resp, err = client.Chat.Completions.New(t.Context(), stopped)
	if err != nil {
		t.Fatal(err)
	}
	if got := resp.Choices[0].Message.Content; got != text[:stopAt] || resp.Choices[0].FinishReason != "stop" {
		t.Errorf("stop: content %q finish %q, want %q", got, resp.Choices[0].FinishReason, text[:stopAt])
	}
	if resp.Usage.CompletionTokens != 5 {
		t.Errorf("stop: completion_tokens = %d, want 5", resp.Usage.CompletionTokens)
	}
}

var weatherTool = openai.ChatCompletionFunctionTool(shared.FunctionDefinitionParam{
	Name:        "get_weather",
	Description: openai.String("Get the weather"),
	Parameters: openai.FunctionParameters{
		"type": "object",
		"properties": map[string]any{
			"location": map[string]any{"type": "string"},
			"unit":     map[string]any{"type": "string", "enum": []string{"celsius", "fahrenheit"}},
			"days":     map[string]any{"type": "integer", "minimum": 1, "maximum": 7},
			"detailed": map[string]any{"type": "boolean"},
			"ratio":    map[string]any{"type": "number"},
			"tags":     map[string]any{"type": "array", "items": map[string]any{"type": "string"}},
			"where": map[string]any{"type": "object", "properties": map[string]any{
				"lat": map[string]any{"type": "number"},
				"lon": map[string]any{"type": "number"},
			}, "required": []string{"lat", "lon"}},
		},
		"required": []string{"location", "unit"},
	},
})

var timeTool = openai.ChatCompletionFunctionTool(shared.FunctionDefinitionParam{
	Name: "get_time",
	Parameters: openai.FunctionParameters{
		"type":       "object",
		"properties": map[string]any{"zone": map[string]any{"type": "string"}},
		"required":   []string{"zone"},
	},
})

// checkWeatherArgs checks arguments against weatherTool's schema.
func checkWeatherArgs(t *testing.T, args string) {
	t.Helper()
	var v struct {
		Location *string        `json:"location"`
		Unit     *string        `json:"unit"`
		Days     *int           `json:"days"`
		Detailed *bool          `json:"detailed"`
		Ratio    *float64       `json:"ratio"`
		Tags     []string       `json:"tags"`
		Where    map[string]any `json:"where"`
	}
	dec := json.NewDecoder(strings.NewReader(args))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("arguments %s: %v", args, err)
	}
	if v.Location == nil || *v.Location == "" || v.Unit == nil || *v.Unit != "celsius" || v.Days == nil ||
		*v.Days < 1 || *v.Days > 7 || v.Detailed == nil || v.Ratio == nil || len(v.Tags) != 1 {
		t.Errorf("arguments %s do not fit the schema", args)
	}
	if _, ok := v.Where["lat"].(float64); !ok {
		t.Errorf("arguments %s: where.lat is not a number", args)
	}
}

func TestToolCallWholeAndStreamed(t *testing.T) {
	s, _, client := newSim(t, sim.Options{})
	p := chatParams("gpt-4o", openai.UserMessage("What is the weather in Paris?"))
	p.Tools = []openai.ChatCompletionToolUnionParam{weatherTool, timeTool}
	resp, err := client.Chat.Completions.New(t.Context(), p)
	if err != nil {
		t.Fatal(err)
	}
	ch := resp.Choices[0]
	if ch.FinishReason != "tool_calls" || len(ch.Message.ToolCalls) != 1 {
		t.Fatalf("choice = %s", ch.RawJSON())
	}
	call := ch.Message.ToolCalls[0]
	if call.Type != "function" || call.Function.Name != "get_weather" || !strings.HasPrefix(call.ID, "call_") {
		t.Errorf("tool call = %s", call.RawJSON())
	}
	if ch.Message.JSON.Content.Valid() && ch.Message.Content != "" {
		t.Errorf("content %q alongside tool calls", ch.Message.Content)
	}
	checkWeatherArgs(t, call.Function.Arguments)
	if resp.Usage.CompletionTokens < 10 {
		t.Errorf("completion_tokens = %d for %s", resp.Usage.CompletionTokens, call.Function.Arguments)
	}

	p.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
	res := stream(t, client, p)
	if res.err != nil {
		t.Fatal(res.err)
	}
	got := res.acc.Choices[0]
	if got.FinishReason != "tool_calls" || len(got.Message.ToolCalls) != 1 {
		t.Fatalf("accumulated choice = %+v", got)
	}
	sc := got.Message.ToolCalls[0]
	if sc.ID != call.ID || sc.Function.Name != call.Function.Name || sc.Function.Arguments != call.Function.Arguments {
		t.Errorf("streamed call %s %s %s, whole call %s %s %s", sc.ID, sc.Function.Name, sc.Function.Arguments,
			call.ID, call.Function.Name, call.Function.Arguments)
	}
	if res.acc.Usage.CompletionTokens != int64(res.argChunks) || res.acc.Usage.CompletionTokens != resp.Usage.CompletionTokens {
		t.Errorf("streamed completion_tokens %d, argument chunks %d, whole %d",
			res.acc.Usage.CompletionTokens, res.argChunks, resp.Usage.CompletionTokens)
	}
	// The header delta carries id, type and name; fragments only index and arguments.
	header := res.chunks[0].Choices[0].Delta
	if header.Role != "assistant" || len(header.ToolCalls) != 1 || header.ToolCalls[0].ID == "" ||
		header.ToolCalls[0].Type != "function" || header.ToolCalls[0].Function.Name != "get_weather" {
		t.Errorf("header chunk = %s", res.chunks[0].RawJSON())
	}
	frag := res.chunks[1].Choices[0].Delta.ToolCalls[0]
	if frag.JSON.ID.Valid() || frag.JSON.Type.Valid() || frag.Function.JSON.Name.Valid() || frag.Function.Arguments == "" {
		t.Errorf("fragment chunk = %s", res.chunks[1].RawJSON())
	}
	if st := s.Stats(); st.OutputTokens["gpt-4o"] != 2*resp.Usage.CompletionTokens {
		t.Errorf("stats output_tokens = %d, want %d", st.OutputTokens["gpt-4o"], 2*resp.Usage.CompletionTokens)
	}
}

func TestToolChoice(t *testing.T) {
	_, _, client := newSim(t, sim.Options{})
	p := chatParams("gpt-4o", openai.UserMessage("What time is it?"))
	p.Tools = []openai.ChatCompletionToolUnionParam{weatherTool, timeTool}

	named := p
	named.ToolChoice = openai.ToolChoiceOptionFunctionToolChoice(openai.ChatCompletionNamedToolChoiceFunctionParam{Name: "get_time"})
	resp, err := client.Chat.Completions.New(t.Context(), named)
	if err != nil {
		t.Fatal(err)
	}
	if calls := resp.Choices[0].Message.ToolCalls; len(calls) != 1 || calls[0].Function.Name != "get_time" {
		t.Errorf("named tool_choice: %s", resp.Choices[0].RawJSON())
	}

	required := p
	required.ToolChoice = openai.ChatCompletionToolChoiceOptionUnionParam{OfAuto: openai.String("required")}
	resp, err = client.Chat.Completions.New(t.Context(), required)
	if err != nil {
		t.Fatal(err)
	}
	if calls := resp.Choices[0].Message.ToolCalls; len(calls) != 1 || calls[0].Function.Name != "get_weather" {
		t.Errorf("required tool_choice: %s", resp.Choices[0].RawJSON())
	}

	none := p
	none.ToolChoice = openai.ChatCompletionToolChoiceOptionUnionParam{OfAuto: openai.String("none")}
	resp, err = client.Chat.Completions.New(t.Context(), none)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Choices[0].FinishReason != "stop" || len(resp.Choices[0].Message.ToolCalls) != 0 || resp.Choices[0].Message.Content == "" {
		t.Errorf("tool_choice none: %s", resp.Choices[0].RawJSON())
	}

	unknown := p
	unknown.ToolChoice = openai.ToolChoiceOptionFunctionToolChoice(openai.ChatCompletionNamedToolChoiceFunctionParam{Name: "nope"})
	_, err = client.Chat.Completions.New(t.Context(), unknown)
	if apiErr, ok := errors.AsType[*openai.Error](err); !ok || apiErr.StatusCode != 400 || apiErr.Param != "tool_choice" {
		t.Errorf("unknown named tool: err = %v", err)
	}
}

func TestParallelToolCalls(t *testing.T) {
	_, _, client := newSim(t, sim.Options{})
	p := chatParams("gpt-4o", openai.UserMessage("Weather and time, in PARALLEL please"))
	p.Tools = []openai.ChatCompletionToolUnionParam{weatherTool, timeTool}
	resp, err := client.Chat.Completions.New(t.Context(), p)
	if err != nil {
		t.Fatal(err)
	}
	calls := resp.Choices[0].Message.ToolCalls
	if len(calls) != 2 || calls[0].Function.Name != "get_weather" || calls[1].Function.Name != "get_time" || calls[0].ID == calls[1].ID {
		t.Fatalf("parallel calls = %s", resp.Choices[0].RawJSON())
	}
	checkWeatherArgs(t, calls[0].Function.Arguments)

	res := stream(t, client, p)
	if res.err != nil {
		t.Fatal(res.err)
	}
	sc := res.acc.Choices[0].Message.ToolCalls
	if len(sc) != 2 || sc[0].Function.Arguments != calls[0].Function.Arguments || sc[1].Function.Arguments != calls[1].Function.Arguments ||
		sc[1].ID != calls[1].ID {
		t.Errorf("streamed parallel calls = %+v", sc)
	}

	p.ParallelToolCalls = openai.Bool(false)
	resp, err = client.Chat.Completions.New(t.Context(), p)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(resp.Choices[0].Message.ToolCalls); n != 1 {
		t.Errorf("parallel_tool_calls false: %d calls, want 1", n)
	}
}

func TestToolRoundTrip(t *testing.T) {
	_, _, client := newSim(t, sim.Options{})
	p := chatParams("gpt-4o", openai.UserMessage("What is the weather in Paris?"))
	p.Tools = []openai.ChatCompletionToolUnionParam{weatherTool}
	resp, err := client.Chat.Completions.New(t.Context(), p)
	if err != nil {
		t.Fatal(err)
	}
	call := resp.Choices[0].Message.ToolCalls[0]
	p.Messages = append(p.Messages, resp.Choices[0].Message.ToParam(),
		openai.ToolMessage(`{"temp_c": 21, "sky": "sunny"}`, call.ID))

	final, err := client.Chat.Completions.New(t.Context(), p)
	if err != nil {
		t.Fatal(err)
	}
	want := `The tool returned: {"temp_c": 21, "sky": "sunny"}.`
	if got := final.Choices[0].Message.Content; got != want || final.Choices[0].FinishReason != "stop" {
		t.Errorf("content %q finish %q, want %q", got, final.Choices[0].FinishReason, want)
	}
	// The assistant turn's tool call and the tool result count as prompt.
	if final.Usage.PromptTokens <= resp.Usage.PromptTokens+8 {
		t.Errorf("prompt_tokens %d after the round trip, %d before", final.Usage.PromptTokens, resp.Usage.PromptTokens)
	}

	res := stream(t, client, p)
	if res.err != nil {
		t.Fatal(res.err)
	}
	if got := res.acc.Choices[0].Message.Content; got != want || int64(res.contentChunks) != final.Usage.CompletionTokens {
		t.Errorf("streamed %q in %d chunks, want %q in %d", got, res.contentChunks, want, final.Usage.CompletionTokens)
	}
}

func TestJSONModes(t *testing.T) {
	_, _, client := newSim(t, sim.Options{})
	p := chatParams("gpt-4o", openai.UserMessage("Answer in JSON"))
	p.ResponseFormat = openai.ChatCompletionNewParamsResponseFormatUnion{OfJSONObject: &shared.ResponseFormatJSONObjectParam{}}
	resp, err := client.Chat.Completions.New(t.Context(), p)
	if err != nil {
		t.Fatal(err)
	}
	var obj map[string]any
	if content := resp.Choices[0].Message.Content; json.Unmarshal([]byte(content), &obj) != nil || len(obj) == 0 {
		t.Errorf("json_object content %q is not a JSON object", content)
	}

	p.ResponseFormat = openai.ChatCompletionNewParamsResponseFormatUnion{OfJSONSchema: &shared.ResponseFormatJSONSchemaParam{
		JSONSchema: shared.ResponseFormatJSONSchemaJSONSchemaParam{
			Name:   "person",
			Strict: openai.Bool(true),
			Schema: map[string]any{
				"type": "object",
				"properties": map[string]any{
					"name":    map[string]any{"type": "string"},
					"age":     map[string]any{"type": "integer", "minimum": 0, "maximum": 120},
					"emails":  map[string]any{"type": "array", "items": map[string]any{"type": "string", "format": "email"}},
					"address": map[string]any{"$ref": "#/$defs/address"},
					"nick":    map[string]any{"anyOf": []any{map[string]any{"type": "null"}, map[string]any{"type": "string"}}},
				},
				"required":             []string{"name", "age", "emails", "address", "nick"},
				"additionalProperties": false,
				"$defs": map[string]any{"address": map[string]any{
					"type":       "object",
					"properties": map[string]any{"city": map[string]any{"type": "string"}},
					"required":   []string{"city"},
				}},
			},
		},
	}}
	res := stream(t, client, p)
	if res.err != nil {
		t.Fatal(res.err)
	}
	content := res.acc.Choices[0].Message.Content
	var person struct {
		Name    string   `json:"name"`
		Age     int      `json:"age"`
		Emails  []string `json:"emails"`
		Address struct {
			City string `json:"city"`
		} `json:"address"`
		Nick string `json:"nick"`
	}
	dec := json.NewDecoder(strings.NewReader(content))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&person); err != nil {
		t.Fatalf("json_schema content %q: %v", content, err)
	}
	if person.Name == "" || len(person.Emails) != 1 || !strings.Contains(person.Emails[0], "@") || person.Address.City == "" || person.Nick == "" {
		t.Errorf("json_schema content %q does not fit the schema", content)
	}
	if int64(res.contentChunks) != res.acc.Usage.CompletionTokens && res.acc.Usage.CompletionTokens != 0 {
		t.Errorf("%d chunks, %d completion tokens", res.contentChunks, res.acc.Usage.CompletionTokens)
	}
}

func TestEmbeddings(t *testing.T) {
	s, _, client := newSim(t, sim.Options{})
	resp, err := client.Embeddings.New(t.Context(), openai.EmbeddingNewParams{
		Model: "text-embedding-3-small",
		Input: openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: []string{"the quick fox", "lazy dog", "the quick fox"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Data) != 3 || resp.Model != "text-embedding-3-small" {
		t.Fatalf("got %d vectors for model %q", len(resp.Data), resp.Model)
	}
	for i, d := range resp.Data {
		if d.Index != int64(i) || len(d.Embedding) != 1536 {
			t.Errorf("vector %d: index %d, %d dims", i, d.Index, len(d.Embedding))
		}
		if n := norm(d.Embedding); math.Abs(n-1) > 1e-5 {
			t.Errorf("vector %d: norm %v", i, n)
		}
	}
	if !slices.Equal(resp.Data[0].Embedding, resp.Data[2].Embedding) || slices.Equal(resp.Data[0].Embedding, resp.Data[1].Embedding) {
		t.Error("same text must give the same vector, different text another")
	}
	if resp.Usage.PromptTokens != 8 || resp.Usage.TotalTokens != 8 {
		t.Errorf("usage = %+v, want 8 prompt tokens", resp.Usage)
	}

	b64, err := client.Embeddings.New(t.Context(), openai.EmbeddingNewParams{
		Model:          "text-embedding-3-small",
		Input:          openai.EmbeddingNewParamsInputUnion{OfString: openai.String("lazy dog")},
		EncodingFormat: openai.EmbeddingNewParamsEncodingFormatBase64,
	})
	if err != nil {
		t.Fatal(err)
	}
	if !b64.Data[0].JSON.Embedding.Valid() || !strings.HasPrefix(b64.Data[0].JSON.Embedding.Raw(), `"`) {
		t.Errorf("base64 embedding was not a string: %.40s", b64.Data[0].JSON.Embedding.Raw())
	}
	for i, f := range b64.Data[0].Embedding {
		if float32(f) != float32(resp.Data[1].Embedding[i]) {
			t.Fatalf("base64 vector differs from float vector at %d: %v vs %v", i, f, resp.Data[1].Embedding[i])
		}
	}

	small, err := client.Embeddings.New(t.Context(), openai.EmbeddingNewParams{
		Model:      "text-embedding-3-large",
		Input:      openai.EmbeddingNewParamsInputUnion{OfArrayOfTokenArrays: [][]int64{{1, 2, 3}, {4}}},
		Dimensions: openai.Int(256),
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(small.Data) != 2 || len(small.Data[0].Embedding) != 256 || small.Usage.PromptTokens != 4 {
		t.Errorf("token arrays: %d vectors of %d dims, %d prompt tokens", len(small.Data), len(small.Data[0].Embedding), small.Usage.PromptTokens)
	}
	st := s.Stats()
	if st.Requests["text-embedding-3-small"] != 2 || st.Completed["text-embedding-3-small"] != 2 ||
		st.InputTokens["text-embedding-3-small"] != 10 || st.OutputTokens["text-embedding-3-small"] != 0 {
		t.Errorf("stats = %+v", st)
	}
}

func norm(v []float64) float64 {
	var s float64
	for _, f := range v {
		s += f * f
	}
	return math.Sqrt(s)
}

func TestModels(t *testing.T) {
	_, _, client := newSim(t, sim.Options{})
	page, err := client.Models.List(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(page.Data, func(m openai.Model) bool { return m.ID == "gpt-4o" && m.OwnedBy == "causeway-sim" }) {
		t.Errorf("models = %+v", page.Data)
	}
	m, err := client.Models.Get(t.Context(), "my-fine-tune:v2")
	if err != nil {
		t.Fatal(err)
	}
	if m.ID != "my-fine-tune:v2" || m.OwnedBy != "causeway-sim" || m.Object != "model" {
		t.Errorf("model = %+v", m)
	}
}

func TestAPIKey(t *testing.T) {
	_, srv, client := newSim(t, sim.Options{APIKey: "sk-right"})
	if _, err := client.Chat.Completions.New(t.Context(), chatParams("m", openai.UserMessage("hi"))); err != nil {
		t.Fatalf("right key: %v", err)
	}
	wrong := openai.NewClient(option.WithBaseURL(srv.URL+"/v1/"), option.WithAPIKey("sk-wrong"), option.WithMaxRetries(0))
	_, err := wrong.Chat.Completions.New(t.Context(), chatParams("m", openai.UserMessage("hi")))
	if apiErr, ok := errors.AsType[*openai.Error](err); !ok || apiErr.StatusCode != 401 || apiErr.Code != "invalid_api_key" {
		t.Errorf("wrong key: err = %v", err)
	}
}

func TestRequestErrors(t *testing.T) {
	s, srv, client := newSim(t, sim.Options{})
	cases := []struct {
		name, path, body string
		status           int
		param            string
	}{
		{"bad json", "/v1/chat/completions", `{"model":`, 400, ""},
		{"no model", "/v1/chat/completions", `{"messages":[{"role":"user","content":"hi"}]}`, 400, "model"},
		{"no messages", "/v1/chat/completions", `{"model":"m"}`, 400, "messages"},
		{"empty messages", "/v1/chat/completions", `{"model":"m","messages":[]}`, 400, "messages"},
		{"bad role", "/v1/chat/completions", `{"model":"m","messages":[{"role":"robot","content":"hi"}]}`, 400, "messages[0].role"},
		{"bad content", "/v1/chat/completions", `{"model":"m","messages":[{"role":"user","content":42}]}`, 400, "messages[0].content"},
		{"max tokens 0", "/v1/chat/completions", `{"model":"m","max_tokens":0,"messages":[{"role":"user","content":"hi"}]}`, 400, "max_tokens"},
		{"tool_choice without tools", "/v1/chat/completions", `{"model":"m","tool_choice":"auto","messages":[{"role":"user","content":"hi"}]}`, 400, "tool_choice"},
		{"bad response_format", "/v1/chat/completions", `{"model":"m","response_format":{"type":"yaml"},"messages":[{"role":"user","content":"hi"}]}`, 400, "response_format.type"},
		{"empty embedding", "/v1/embeddings", `{"model":"e","input":""}`, 400, "input"},
		{"no input", "/v1/embeddings", `{"model":"e"}`, 400, "input"},
		{"bad encoding", "/v1/embeddings", `{"model":"e","input":"x","encoding_format":"hex"}`, 400, "encoding_format"},
		{"unknown path", "/v1/nothing", `{}`, 404, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := http.Post(srv.URL+tc.path, "application/json", strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body struct {
				Error struct {
					Message string  `json:"message"`
					Type    string  `json:"type"`
					Param   *string `json:"param"`
					Code    *string `json:"code"`
				} `json:"error"`
			}
			raw, _ := io.ReadAll(resp.Body)
			if err := json.Unmarshal(raw, &body); err != nil {
				t.Fatalf("body %s: %v", raw, err)
			}
			if resp.StatusCode != tc.status || body.Error.Type != "invalid_request_error" || body.Error.Message == "" {
				t.Errorf("status %d body %s, want %d invalid_request_error", resp.StatusCode, raw, tc.status)
			}
			if got := ""; body.Error.Param != nil {
				got = *body.Error.Param
				if got != tc.param {
					t.Errorf("param = %q, want %q", got, tc.param)
				}
			} else if tc.param != "" {
				t.Errorf("param = null, want %q", tc.param)
			}
			if !strings.Contains(string(raw), `"code":`) || !strings.Contains(string(raw), `"param":`) {
				t.Errorf("body %s lacks code or param", raw)
			}
		})
	}
	// Through the SDK as well.
	_, err := client.Chat.Completions.New(t.Context(), openai.ChatCompletionNewParams{Model: "m"})
	if apiErr, ok := errors.AsType[*openai.Error](err); !ok || apiErr.StatusCode != 400 || apiErr.Type != "invalid_request_error" {
		t.Errorf("SDK: err = %v", err)
	}
	// Invalid requests are not counted.
	if st := s.Stats(); len(st.Requests) != 0 {
		t.Errorf("stats after invalid requests = %+v", st)
	}
}
