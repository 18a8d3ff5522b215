package sim_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/document"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"

	"github.com/causeway-ai/causeway/internal/sim"
)

// profileID is a cross-region inference profile id: its ':' must survive
// path escaping and signing.
const profileID = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"

func staticCreds(id, secret string) aws.CredentialsProvider {
	return aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{AccessKeyID: id, SecretAccessKey: secret}, nil
	})
}

// newBedrock starts a simulator and the official Bedrock runtime client,
// signing with secret.
func newBedrock(t *testing.T, secret string) (*sim.Sim, *httptest.Server, *bedrockruntime.Client) {
	t.Helper()
	s := sim.New(sim.Options{})
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	c := bedrockruntime.New(bedrockruntime.Options{
		Region:           "us-east-1",
		BaseEndpoint:     aws.String(srv.URL),
		Credentials:      staticCreds(sim.BedrockAccessKeyID, secret),
		RetryMaxAttempts: 1,
		HTTPClient:       bufferedBody{http.DefaultClient},
	})
	return s, srv, c
}

// bufferedBody sends a private copy of the request body. The SDK may close
// its body reader as soon as the response arrives, while net/http's write
// loop still probes it for EOF; the probe's error then closes the
// connection under the response being read (aws/aws-sdk-go-v2#2737). The
// gateway's own provider sends a bytes.Reader and is not affected.
type bufferedBody struct{ c *http.Client }

func (b bufferedBody) Do(r *http.Request) (*http.Response, error) {
	if r.Body != nil && r.Body != http.NoBody {
		body, err := io.ReadAll(r.Body)
		r.Body.Close()
		if err != nil {
			return nil, err
		}
		r = r.Clone(r.Context())
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	}
	return b.c.Do(r)
}

func userText(text string) types.Message {
	return types.Message{Role: types.ConversationRoleUser, Content: []types.ContentBlock{&types.ContentBlockMemberText{Value: text}}}
}

var bedrockWeather = &types.ToolMemberToolSpec{Value: types.ToolSpecification{
	Name:        aws.String("get_weather"),
	Description: aws.String("Weather for a city"),
	InputSchema: &types.ToolInputSchemaMemberJson{Value: document.NewLazyDocument(map[string]any{
		"type":       "object",
		"properties": map[string]any{"city": map[string]any{"type": "string"}, "days": map[string]any{"type": "integer"}},
		"required":   []string{"city"},
	})},
}}

func TestBedrockConverseSDK(t *testing.T) {
	s, _, c := newBedrock(t, sim.BedrockSecretAccessKey)
	ctx := t.Context()
	out, err := c.Converse(ctx, &bedrockruntime.ConverseInput{
		ModelId:  aws.String(profileID),
		System:   []types.SystemContentBlock{&types.SystemContentBlockMemberText{Value: "Be brief."}},
		Messages: []types.Message{userText("Hello there")},
	})
	if err != nil {
		t.Fatalf("Converse: %v", err)
	}
	msg := out.Output.(*types.ConverseOutputMemberMessage).Value
	text := msg.Content[0].(*types.ContentBlockMemberText).Value
	if text == "" || out.StopReason != types.StopReasonEndTurn {
		t.Fatalf("text %q stop %q, want text and end_turn", text, out.StopReason)
	}
	st := s.Stats()
	if got, want := int64(*out.Usage.OutputTokens), st.OutputTokens[profileID]; got != want || got == 0 {
		t.Errorf("output tokens %d, simulator counted %d", got, want)
	}
	// 4 + 2 words for the system prompt, 4 + 2 for the message.
	if got := *out.Usage.InputTokens; got != 12 || int64(got) != st.InputTokens[profileID] {
		t.Errorf("input tokens %d (sim %d), want 12", got, st.InputTokens[profileID])
	}

	// The same conversation gets the same answer.
	out2, err := c.Converse(ctx, &bedrockruntime.ConverseInput{
		ModelId:  aws.String(profileID),
		System:   []types.SystemContentBlock{&types.SystemContentBlockMemberText{Value: "Be brief."}},
		Messages: []types.Message{userText("Hello there")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if t2 := out2.Output.(*types.ConverseOutputMemberMessage).Value.Content[0].(*types.ContentBlockMemberText).Value; t2 != text {
		t.Errorf("answers differ: %q vs %q", t2, text)
	}

	t.Run("max tokens", func(t *testing.T) {
		out, err := c.Converse(ctx, &bedrockruntime.ConverseInput{
			ModelId: aws.String("amazon.nova-lite-v1:0"), Messages: []types.Message{userText("cap me")},
			InferenceConfig: &types.InferenceConfiguration{MaxTokens: aws.Int32(3)},
		})
		if err != nil {
			t.Fatal(err)
		}
		if out.StopReason != types.StopReasonMaxTokens || *out.Usage.OutputTokens != 3 {
			t.Errorf("stop %q output %d, want max_tokens and 3", out.StopReason, *out.Usage.OutputTokens)
		}
	})

	t.Run("tool round trip", func(t *testing.T) {
		tools := &types.ToolConfiguration{Tools: []types.Tool{bedrockWeather}}
		msgs := []types.Message{userText("Weather in Paris?")}
		out, err := c.Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String(profileID), Messages: msgs, ToolConfig: tools})
		if err != nil {
			t.Fatal(err)
		}
		if out.StopReason != types.StopReasonToolUse {
			t.Fatalf("stop %q, want tool_use", out.StopReason)
		}
		am := out.Output.(*types.ConverseOutputMemberMessage).Value
		tu := am.Content[0].(*types.ContentBlockMemberToolUse).Value
		var args map[string]any
		if err := tu.Input.UnmarshalSmithyDocument(&args); err != nil || args["city"] == nil {
			t.Fatalf("tool input %v (%v), want a city", args, err)
		}
		msgs = append(msgs, am, types.Message{Role: types.ConversationRoleUser, Content: []types.ContentBlock{
			&types.ContentBlockMemberToolResult{Value: types.ToolResultBlock{ToolUseId: tu.ToolUseId,
				Content: []types.ToolResultContentBlock{&types.ToolResultContentBlockMemberText{Value: "21C and sunny"}}}}}})
		out, err = c.Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String(profileID), Messages: msgs, ToolConfig: tools})
		if err != nil {
			t.Fatal(err)
		}
		if got := out.Output.(*types.ConverseOutputMemberMessage).Value.Content[0].(*types.ContentBlockMemberText).Value; !strings.Contains(got, "21C and sunny") {
			t.Errorf("answer %q does not use the tool result", got)
		}
	})

	t.Run("validation", func(t *testing.T) {
		_, err := c.Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String(profileID), Messages: []types.Message{
			{Role: types.ConversationRoleAssistant, Content: []types.ContentBlock{&types.ContentBlockMemberText{Value: "hi"}}}}})
		var ve *types.ValidationException
		if !errors.As(err, &ve) {
			t.Fatalf("err = %v, want a ValidationException", err)
		}
	})

	t.Run("throttled", func(t *testing.T) {
		s.AddFault(sim.Fault{Model: "throttled", Status: 429, Count: 1})
		_, err := c.Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String("throttled"), Messages: []types.Message{userText("x")}})
		var te *types.ThrottlingException
		if !errors.As(err, &te) {
			t.Fatalf("err = %v, want a ThrottlingException", err)
		}
	})
}

func TestBedrockConverseStreamSDK(t *testing.T) {
	s, _, c := newBedrock(t, sim.BedrockSecretAccessKey)
	ctx := t.Context()
	run := func(t *testing.T, in *bedrockruntime.ConverseStreamInput) (text string, deltas int, toolName, toolInput string, stop types.StopReason, usage *types.TokenUsage) {
		t.Helper()
		out, err := c.ConverseStream(ctx, in)
		if err != nil {
			t.Fatalf("ConverseStream: %v", err)
		}
		st := out.GetStream()
		defer st.Close()
		for ev := range st.Events() {
			switch v := ev.(type) {
			case *types.ConverseStreamOutputMemberContentBlockStart:
				toolName = *v.Value.Start.(*types.ContentBlockStartMemberToolUse).Value.Name
			case *types.ConverseStreamOutputMemberContentBlockDelta:
				deltas++
				switch d := v.Value.Delta.(type) {
				case *types.ContentBlockDeltaMemberText:
					text += d.Value
				case *types.ContentBlockDeltaMemberToolUse:
					toolInput += *d.Value.Input
				}
			case *types.ConverseStreamOutputMemberMessageStop:
				stop = v.Value.StopReason
			case *types.ConverseStreamOutputMemberMetadata:
				usage = v.Value.Usage
			}
		}
		if err := st.Err(); err != nil {
			t.Fatalf("stream: %v", err)
		}
		return
	}

	t.Run("text", func(t *testing.T) {
		s.ResetStats()
		text, deltas, _, _, stop, usage := run(t, &bedrockruntime.ConverseStreamInput{ModelId: aws.String(profileID), Messages: []types.Message{userText("Stream me")}})
		if text == "" || stop != types.StopReasonEndTurn || usage == nil {
			t.Fatalf("text %q stop %q usage %v", text, stop, usage)
		}
		if int(*usage.OutputTokens) != deltas {
			t.Errorf("output tokens %d, want one per delta (%d)", *usage.OutputTokens, deltas)
		}
		if st := s.Stats(); st.Completed[profileID] != 1 || st.OutputTokens[profileID] != int64(*usage.OutputTokens) || st.InputTokens[profileID] != int64(*usage.InputTokens) {
			t.Errorf("stats %+v do not match usage %+v", st, usage)
		}
	})
	t.Run("tool use", func(t *testing.T) {
		_, deltas, name, input, stop, usage := run(t, &bedrockruntime.ConverseStreamInput{ModelId: aws.String(profileID),
			Messages: []types.Message{userText("Weather?")}, ToolConfig: &types.ToolConfiguration{Tools: []types.Tool{bedrockWeather},
				ToolChoice: &types.ToolChoiceMemberAny{}}})
		if name != "get_weather" || stop != types.StopReasonToolUse || deltas < 3 {
			t.Fatalf("tool %q stop %q deltas %d, want get_weather, tool_use and several deltas", name, stop, deltas)
		}
		var args map[string]any
		if err := json.Unmarshal([]byte(input), &args); err != nil {
			t.Fatalf("input %q is not JSON: %v", input, err)
		}
		if int(*usage.OutputTokens) != deltas {
			t.Errorf("output tokens %d, want %d", *usage.OutputTokens, deltas)
		}
	})
	t.Run("corrupt frame", func(t *testing.T) {
		s.AddFault(sim.Fault{Model: "corrupt", Malformed: true, CutAfterChunks: 3, Count: 1})
		out, err := c.ConverseStream(ctx, &bedrockruntime.ConverseStreamInput{ModelId: aws.String("corrupt"), Messages: []types.Message{userText("x")}})
		if err != nil {
			t.Fatal(err)
		}
		st := out.GetStream()
		for range st.Events() {
		}
		st.Close()
		if st.Err() == nil {
			t.Fatal("the SDK accepted a frame with a bad CRC")
		}
	})
}

func TestBedrockSignatureRejected(t *testing.T) {
	_, srv, c := newBedrock(t, "wrong-secret")
	_, err := c.Converse(t.Context(), &bedrockruntime.ConverseInput{ModelId: aws.String(profileID), Messages: []types.Message{userText("x")}})
	// smithy.APIError, without importing smithy-go for one interface.
	var ae interface {
		error
		ErrorCode() string
		ErrorMessage() string
	}
	if !errors.As(err, &ae) || ae.ErrorCode() != "InvalidSignatureException" || !strings.Contains(ae.ErrorMessage(), "signature we calculated does not match") {
		t.Fatalf("err = %v, want InvalidSignatureException", err)
	}
	var re *awshttp.ResponseError
	if !errors.As(err, &re) || re.HTTPStatusCode() != 403 {
		t.Fatalf("err = %v, want a 403", err)
	}

	post := func(t *testing.T, sign func(*http.Request, []byte)) (int, string, string) {
		body := []byte(`{"messages":[{"role":"user","content":[{"text":"x"}]}]}`)
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/model/"+strings.ReplaceAll(profileID, ":", "%3A")+"/converse", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if sign != nil {
			sign(req, body)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("X-Amzn-Errortype"), string(b)
	}
	signAt := func(at time.Time, secret string) func(*http.Request, []byte) {
		return func(req *http.Request, body []byte) {
			sum := sha256.Sum256(body)
			creds := aws.Credentials{AccessKeyID: sim.BedrockAccessKeyID, SecretAccessKey: secret}
			if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), "bedrock", "us-east-1", at); err != nil {
				t.Fatal(err)
			}
		}
	}
	t.Run("signed now", func(t *testing.T) {
		if status, _, b := post(t, signAt(time.Now(), sim.BedrockSecretAccessKey)); status != 200 {
			t.Fatalf("status %d: %s", status, b)
		}
	})
	t.Run("session token", func(t *testing.T) {
		status, _, b := post(t, func(req *http.Request, body []byte) {
			sum := sha256.Sum256(body)
			creds := aws.Credentials{AccessKeyID: "ASIATEMPORARY", SecretAccessKey: sim.BedrockSecretAccessKey, SessionToken: "FwoGZXIvYXdzEJr"}
			if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), "bedrock", "eu-west-3", time.Now()); err != nil {
				t.Fatal(err)
			}
			if req.Header.Get("X-Amz-Security-Token") == "" {
				t.Fatal("the signer set no X-Amz-Security-Token")
			}
		})
		if status != 200 {
			t.Fatalf("status %d: %s", status, b)
		}
	})
	t.Run("expired", func(t *testing.T) {
		status, typ, b := post(t, signAt(time.Now().Add(-20*time.Minute), sim.BedrockSecretAccessKey))
		if status != 403 || !strings.HasPrefix(typ, "InvalidSignatureException") || !strings.Contains(b, "Signature expired") {
			t.Fatalf("status %d type %q body %s, want 403 InvalidSignatureException: Signature expired", status, typ, b)
		}
	})
	t.Run("missing", func(t *testing.T) {
		status, typ, b := post(t, nil)
		if status != 403 || !strings.HasPrefix(typ, "MissingAuthenticationTokenException") {
			t.Fatalf("status %d type %q body %s, want 403 MissingAuthenticationTokenException", status, typ, b)
		}
	})
	t.Run("body changed after signing", func(t *testing.T) {
		status, typ, _ := post(t, func(req *http.Request, body []byte) {
			signAt(time.Now(), sim.BedrockSecretAccessKey)(req, []byte(`{"messages":[]}`))
		})
		if status != 403 || !strings.HasPrefix(typ, "InvalidSignatureException") {
			t.Fatalf("status %d type %q, want 403 InvalidSignatureException", status, typ)
		}
	})
}

func TestBedrockInvokeEmbeddingsSDK(t *testing.T) {
	s, _, c := newBedrock(t, sim.BedrockSecretAccessKey)
	out, err := c.InvokeModel(t.Context(), &bedrockruntime.InvokeModelInput{
		ModelId: aws.String("amazon.titan-embed-text-v2:0"), ContentType: aws.String("application/json"), Accept: aws.String("application/json"),
		Body: []byte(`{"inputText":"alpha beta gamma","dimensions":256,"normalize":true}`),
	})
	if err != nil {
		t.Fatalf("InvokeModel: %v", err)
	}
	var r struct {
		Embedding           []float32 `json:"embedding"`
		InputTextTokenCount int       `json:"inputTextTokenCount"`
	}
	if err := json.Unmarshal(out.Body, &r); err != nil {
		t.Fatal(err)
	}
	if len(r.Embedding) != 256 || r.InputTextTokenCount != 3 {
		t.Fatalf("got %d dims and %d tokens, want 256 and 3", len(r.Embedding), r.InputTextTokenCount)
	}
	if s.Stats().InputTokens["amazon.titan-embed-text-v2:0"] != 3 {
		t.Errorf("stats %+v", s.Stats())
	}
	out, err = c.InvokeModel(t.Context(), &bedrockruntime.InvokeModelInput{
		ModelId: aws.String("cohere.embed-english-v3"), ContentType: aws.String("application/json"),
		Body: []byte(`{"texts":["alpha","beta gamma"],"input_type":"search_document"}`),
	})
	if err != nil {
		t.Fatalf("InvokeModel cohere: %v", err)
	}
	var cr struct {
		Embeddings [][]float32 `json:"embeddings"`
	}
	if err := json.Unmarshal(out.Body, &cr); err != nil || len(cr.Embeddings) != 2 || len(cr.Embeddings[0]) != 1024 {
		t.Fatalf("cohere answer: %d vectors (%v)", len(cr.Embeddings), err)
	}
}

// FuzzBedrockRequest sends signed, arbitrary bodies to every Bedrock
// route: the simulator must answer 200 or a Bedrock 4xx, never fail.
func FuzzBedrockRequest(f *testing.F) {
	f.Add([]byte(`{"messages":[{"role":"user","content":[{"text":"hi"}]}],"system":[{"text":"be brief"}],"inferenceConfig":{"maxTokens":3,"stopSequences":["x"]}}`), uint8(0))
	f.Add([]byte(`{"messages":[{"role":"user","content":[{"text":"w"}]},{"role":"assistant","content":[{"toolUse":{"toolUseId":"t","name":"f","input":{}}}]},{"role":"user","content":[{"toolResult":{"toolUseId":"t","content":[{"json":{"a":1}}]}}]}],"toolConfig":{"tools":[{"toolSpec":{"name":"f","inputSchema":{"json":{"type":"object","properties":{"a":{"$ref":"#"}}}}}}],"toolChoice":{"tool":{"name":"f"}}}}`), uint8(1))
	f.Add([]byte(`{"inputText":"alpha","dimensions":256}`), uint8(2))
	f.Add([]byte(`{"texts":["a"],"input_type":"search_query"}`), uint8(3))
	s := sim.New(sim.Options{})
	routes := []string{"/model/m%3A0/converse", "/model/m/converse-stream", "/model/amazon.titan-embed-text-v2:0/invoke", "/model/cohere.embed-english-v3/invoke"}
	f.Fuzz(func(t *testing.T, body []byte, route uint8) {
		req := httptest.NewRequest(http.MethodPost, "http://sim.test"+routes[int(route)%len(routes)], bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		sum := sha256.Sum256(body)
		creds := aws.Credentials{AccessKeyID: sim.BedrockAccessKeyID, SecretAccessKey: sim.BedrockSecretAccessKey}
		if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), "bedrock", "us-east-1", time.Now()); err != nil {
			t.Fatal(err)
		}
		w := httptest.NewRecorder()
		s.ServeHTTP(w, req)
		if w.Code != 200 && w.Code != 400 {
			t.Fatalf("status %d for %q: %s", w.Code, body, w.Body.Bytes())
		}
		if w.Code == 400 && !strings.HasPrefix(w.Header().Get("X-Amzn-Errortype"), "ValidationException") {
			t.Fatalf("400 without ValidationException: %s", w.Body.Bytes())
		}
	})
}
