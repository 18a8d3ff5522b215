package azure

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/causeway-ai/causeway/internal/llm"
	"github.com/causeway-ai/causeway/internal/provider/openai"
)

const wholeBody = `{"choices":[{"content_filter_results":{"hate":{"filtered":false,"severity":"safe"}},"finish_reason":"stop","index":0,"message":{"content":"Hi","role":"assistant"}}],` +
	`"created":1,"id":"chatcmpl-1","model":"gpt-4.1-mini","object":"chat.completion",` +
	`"prompt_filter_results":[{"prompt_index":0,"content_filter_results":{}}],"usage":{"completion_tokens":1,"prompt_tokens":5,"total_tokens":6}}`

// seen is what an upstream received.
type seen struct {
	mu     sync.Mutex
	method string
	path   string
	query  string
	header http.Header
	body   map[string]any
}

func upstream(t *testing.T, status int, body string) (*httptest.Server, *seen) {
	t.Helper()
	s := &seen{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.method, s.path, s.query, s.header = r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Clone()
		s.body = nil
		_ = json.Unmarshal(b, &s.body)
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Retry-After-Ms", "1500")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv, s
}

func chat(t *testing.T, p *Provider, stream bool) ([]llm.Event, error) {
	t.Helper()
	req := &llm.Request{Model: "alias", UpstreamModel: "my deployment", Stream: stream, MaxTokens: 5,
		Messages: []llm.Message{llm.TextMessage(llm.RoleUser, "hello")}}
	st, err := p.Chat(t.Context(), req)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	var evs []llm.Event
	for {
		ev, err := st.Next()
		if errors.Is(err, io.EOF) {
			return evs, nil
		}
		if err != nil {
			return evs, err
		}
		evs = append(evs, ev)
	}
}

func TestRoutesAuthAndDialect(t *testing.T) {
	srv, got := upstream(t, 200, wholeBody)
	cases := []struct {
		name                  string
		cfg                   Config
		path, query           string
		apiKey, authorization string
		maxField              string
	}{
		{"default version", Config{BaseURL: srv.URL, APIKey: "k1"},
			"/openai/deployments/my deployment/chat/completions", "api-version=2024-10-21", "k1", "", "max_tokens"},
		{"preview version, endpoint with /openai", Config{BaseURL: srv.URL + "/openai/", APIKey: "k1", APIVersion: "2025-04-01-preview"},
			"/openai/deployments/my deployment/chat/completions", "api-version=2025-04-01-preview", "k1", "", "max_completion_tokens"},
		{"v1 with entra", Config{BaseURL: srv.URL, APIKey: "tok", APIVersion: "v1", Auth: "entra"},
			"/openai/v1/chat/completions", "", "", "Bearer tok", "max_completion_tokens"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := New(c.cfg)
			if err != nil {
				t.Fatal(err)
			}
			evs, err := chat(t, p, false)
			if err != nil {
				t.Fatal(err)
			}
			got.mu.Lock()
			defer got.mu.Unlock()
			if got.path != c.path || got.query != c.query {
				t.Errorf("path %q query %q, want %q %q", got.path, got.query, c.path, c.query)
			}
			if got.header.Get("Api-Key") != c.apiKey || got.header.Get("Authorization") != c.authorization {
				t.Errorf("api-key %q authorization %q, want %q %q", got.header.Get("Api-Key"), got.header.Get("Authorization"), c.apiKey, c.authorization)
			}
			if got.body["model"] != "my deployment" || got.body[c.maxField] != 5.0 {
				t.Errorf("body %v, want model my deployment and %s 5", got.body, c.maxField)
			}
			if evs[0].Type != llm.EventStart || string(evs[0].Annotations["prompt_filter_results"]) == "" {
				t.Errorf("start event %+v, want the prompt filter results", evs[0])
			}
			fin := evs[len(evs)-2]
			if fin.Type != llm.EventFinish || !strings.Contains(string(fin.Annotations["content_filter_results"]), "safe") {
				t.Errorf("finish event %+v, want the content filter results", fin)
			}
			if u := evs[len(evs)-1]; u.Type != llm.EventUsage || u.Usage.InputTokens != 5 || u.Usage.OutputTokens != 1 {
				t.Errorf("usage event %+v", u)
			}
		})
	}

	t.Run("embeddings", func(t *testing.T) {
		esrv, eg := upstream(t, 200, `{"data":[{"index":0,"embedding":[0.5,0.5]}],"model":"m","usage":{"prompt_tokens":2,"total_tokens":2}}`)
		p, _ := New(Config{BaseURL: esrv.URL, APIKey: "k"})
		resp, err := p.Embed(t.Context(), &llm.EmbeddingRequest{UpstreamModel: "emb", Input: []string{"a b"}})
		if err != nil || len(resp.Vectors) != 1 || resp.Usage.InputTokens != 2 {
			t.Fatalf("embed: %+v, %v", resp, err)
		}
		if eg.path != "/openai/deployments/emb/embeddings" || eg.query != "api-version=2024-10-21" {
			t.Errorf("path %q query %q", eg.path, eg.query)
		}
	})
}

func TestStreamOptionsByVersion(t *testing.T) {
	for v, want := range map[string]bool{"2024-06-01": false, "2024-08-01-preview": false, "2024-09-01-preview": true, "2024-10-21": true, "v1": true} {
		body, err := EncodeChatRequest(&llm.Request{UpstreamModel: "d", Stream: true, Messages: []llm.Message{llm.TextMessage(llm.RoleUser, "x")}}, v)
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Contains(string(body), `"stream_options":{"include_usage":true}`); got != want {
			t.Errorf("api-version %s: stream_options sent = %t, want %t (%s)", v, got, want, body)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	for _, c := range []Config{
		{BaseURL: "https://r.openai.azure.com", APIVersion: "latest"},
		{BaseURL: "https://r.openai.azure.com", APIVersion: "2024-13-01"},
		{BaseURL: "https://r.openai.azure.com", APIVersion: "2024-10-21preview"},
		{BaseURL: "https://r.openai.azure.com", APIVersion: "2024-10-21&x=1"},
		{BaseURL: "https://r.openai.azure.com", Auth: "oauth"},
		{BaseURL: "ftp://r"},
	} {
		if _, err := New(c); err == nil {
			t.Errorf("New(%+v) accepted a bad configuration", c)
		}
	}
}

func TestErrors(t *testing.T) {
	cases := []struct {
		status int
		body   string
		kind   llm.Kind
		code   string
		text   string
	}{
		{400, `{"error":{"code":"BadRequest","message":"API version not supported"}}`, llm.KindUpstream, "upstream_misconfigured", "api_version"},
		{404, `{"error":{"code":"404","message":"Resource not found"}}`, llm.KindUpstream, "upstream_misconfigured", "base_url"},
		{404, `{"error":{"code":"DeploymentNotFound","message":"The API deployment for this resource does not exist."}}`, llm.KindUpstream, "upstream_misconfigured", `deployment "my deployment"`},
		{400, `{"error":{"message":"filtered","type":null,"param":"prompt","code":"content_filter","status":400,"innererror":{"code":"ResponsibleAIPolicyViolation"}}}`, llm.KindInvalid, "content_filter", "ResponsibleAIPolicyViolation"},
		{429, `{"error":{"code":"429","message":"Please retry after 2 seconds."}}`, llm.KindRateLimited, "", "retry after"},
		{500, `not json`, llm.KindUpstream, "", "not json"},
	}
	for _, c := range cases {
		srv, _ := upstream(t, c.status, c.body)
		p, _ := New(Config{Name: "az", BaseURL: srv.URL, APIKey: "k"})
		_, err := chat(t, p, true)
		e, ok := errors.AsType[*llm.Error](err)
		if !ok || e.Kind != c.kind || e.Code != c.code || !strings.Contains(e.Message, c.text) {
			t.Errorf("%d %s: got %#v, want kind %v code %q and %q in the message", c.status, c.body, err, c.kind, c.code, c.text)
			continue
		}
		if c.status == 429 && e.RetryAfter != 1500*time.Millisecond {
			t.Errorf("retry after %v, want Retry-After-Ms 1500ms", e.RetryAfter)
		}
	}
}

func TestUnreachable(t *testing.T) {
	p, _ := New(Config{BaseURL: "http://127.0.0.1:1", APIKey: "k", ConnectTimeout: time.Second})
	_, err := chat(t, p, false)
	if llm.KindOf(err) != llm.KindUnavailable {
		t.Errorf("err = %v, want unavailable", err)
	}
}

var streamSeeds = []string{
	`data: {"choices":[],"created":0,"id":"","model":"","object":"","prompt_filter_results":[{"prompt_index":0,"content_filter_results":{}}]}` + "\n\n" +
		`data: {"choices":[{"content_filter_results":{},"delta":{"content":"","role":"assistant"},"finish_reason":null,"index":0}],"id":"c","model":"m","object":"chat.completion.chunk"}` + "\n\n" +
		`data: {"choices":[{"content_filter_results":{"hate":{"filtered":false}},"delta":{"content":"Hi"},"index":0}],"id":"c"}` + "\n\n" +
		`data: {"choices":[{"content_filter_offsets":{"check_offset":0},"content_filter_results":{"violence":{"filtered":true}},"index":0}],"id":"c"}` + "\n\n" +
		`data: {"choices":[{"delta":{},"finish_reason":"content_filter","index":0}],"id":"c"}` + "\n\n" +
		`data: {"choices":[],"id":"c","usage":{"prompt_tokens":1,"completion_tokens":1}}` + "\n\ndata: [DONE]\n\n",
	`data: {"choices":[],"id":"","prompt_filter_results":null}` + "\n\n" + `data: {"id":"x","prompt_filter_results":[1],"choices":[{"index":3,"content_filter_results":[]}]}` + "\n\n",
	`data: {"error":{"code":"content_filter","message":"filtered"}}` + "\n\n",
}

// FuzzStream feeds Azure-shaped streams to the codec: it must end with EOF
// or an upstream error, never panic, and every annotation it passes on
// must be valid JSON.
func FuzzStream(f *testing.F) {
	for _, s := range streamSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		st := openai.DecodeStream(strings.NewReader(in))
		defer st.Close()
		for range 100000 {
			ev, err := st.Next()
			if errors.Is(err, io.EOF) {
				return
			}
			if err != nil {
				if k := llm.KindOf(err); k != llm.KindUpstream && k != llm.KindTimeout && k != llm.KindCanceled {
					t.Fatalf("stream error of kind %v: %v", k, err)
				}
				return
			}
			for k, v := range ev.Annotations {
				if !json.Valid(v) {
					t.Fatalf("annotation %s = %q is not JSON", k, v)
				}
			}
		}
		t.Fatal("stream did not end")
	})
}

// FuzzWhole feeds whole bodies to the codec.
func FuzzWhole(f *testing.F) {
	f.Add(wholeBody)
	f.Add(`{"choices":[{"index":-1,"content_filter_results":{}}],"prompt_filter_results":[]}`)
	f.Fuzz(func(t *testing.T, in string) {
		evs, err := openai.DecodeResponse([]byte(in))
		if err != nil {
			if llm.KindOf(err) != llm.KindUpstream {
				t.Fatalf("error of kind %v: %v", llm.KindOf(err), err)
			}
			return
		}
		for _, ev := range evs {
			for k, v := range ev.Annotations {
				if !json.Valid(v) {
					t.Fatalf("annotation %s = %q is not JSON", k, v)
				}
			}
		}
	})
}

// FuzzUpstreamError feeds error answers to the error mapping.
func FuzzUpstreamError(f *testing.F) {
	f.Add(400, `{"error":{"message":"x","code":"content_filter","innererror":{"code":"R"}}}`, "")
	f.Add(429, `{"error":{"code":429,"message":"slow down"}}`, "250")
	f.Add(503, "", "-1")
	f.Fuzz(func(t *testing.T, status int, body, retryMS string) {
		if status < 400 || status > 599 {
			return
		}
		h := http.Header{}
		h.Set("Retry-After-Ms", retryMS)
		h.Set("Retry-After", retryMS)
		e := openai.UpstreamError("az", status, h, []byte(body))
		if e.Message == "" || e.Status != status || e.RetryAfter < 0 {
			t.Fatalf("error %+v", e)
		}
		p := &Provider{version: "v1"}
		if err := p.explain(e, "d"); llm.KindOf(err) == llm.KindInternal {
			t.Fatalf("explained %v as internal", err)
		}
	})
}

// entraServer is a Microsoft Entra ID token endpoint that issues
// "tok-1", "tok-2"… valid for expiresIn seconds, and checks the client
// credentials grant.
func entraServer(t *testing.T, expiresIn int, fail bool) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			t.Errorf("token request: %v", err)
		}
		f := r.PostForm
		w.Header().Set("Content-Type", "application/json")
		if fail || f.Get("grant_type") != "client_credentials" || f.Get("client_id") != "app" ||
			f.Get("client_secret") != "s3cret-value" || f.Get("scope") != EntraScope {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, `{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided."}`)
			return
		}
		k := n.Add(1)
		_, _ = fmt.Fprintf(w, `{"token_type":"Bearer","expires_in":%d,"access_token":"tok-%d"}`, expiresIn, k)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

// TestEntraServicePrincipal: with a service principal, every request
// carries a token of its own fetching, renewed when it is about to
// expire and reused while it is not; a token endpoint that refuses fails
// the request clearly, without the secret.
func TestEntraServicePrincipal(t *testing.T) {
	srv, got := upstream(t, 200, wholeBody)
	cfgFor := func(tokenURL string) Config {
		return Config{BaseURL: srv.URL, Auth: AuthEntra, ClientID: "app", ClientSecret: "s3cret-value", TokenURL: tokenURL}
	}
	authorization := func() string {
		got.mu.Lock()
		defer got.mu.Unlock()
		return got.header.Get("Authorization")
	}

	// Tokens that expire within oauth2's 10 s margin are renewed for
	// every request.
	short, issued := entraServer(t, 5, false)
	p, err := New(cfgFor(short.URL))
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 2; i++ {
		if _, err := chat(t, p, false); err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf("Bearer tok-%d", i); authorization() != want {
			t.Errorf("request %d authorization = %q, want %q", i, authorization(), want)
		}
	}
	if issued.Load() != 2 {
		t.Errorf("tokens issued = %d, want 2", issued.Load())
	}

	// An hour-long token is reused.
	long, issued := entraServer(t, 3600, false)
	p, _ = New(cfgFor(long.URL))
	for range 3 {
		if _, err := chat(t, p, false); err != nil {
			t.Fatal(err)
		}
	}
	if issued.Load() != 1 || authorization() != "Bearer tok-1" {
		t.Errorf("tokens issued = %d, authorization %q; want one token reused", issued.Load(), authorization())
	}

	// Refused.
	bad, _ := entraServer(t, 3600, true)
	p, _ = New(cfgFor(bad.URL))
	_, err = chat(t, p, false)
	e := llm.AsError(err)
	if e.Kind != llm.KindUpstream || !strings.Contains(e.Message, "Microsoft Entra ID token") ||
		!strings.Contains(e.Message, "invalid_client") || strings.Contains(e.Message, "AADSTS") || strings.Contains(e.Message, "s3cret-value") {
		t.Errorf("error = %v (%s); want an upstream error naming Entra's code only, without the secret", e.Message, e.Kind)
	}

	if _, err := New(Config{BaseURL: srv.URL, Auth: AuthEntra, ClientID: "app"}); err == nil {
		t.Error("New with a client id but no secret: no error")
	}
}

// TestEntraTokenWaitFollowsContext: requests waiting for a token that
// Entra is slow to give return when their own context ends, and share
// one fetch.
func TestEntraTokenWaitFollowsContext(t *testing.T) {
	srv, _ := upstream(t, 200, wholeBody)
	release := make(chan struct{})
	var fetches atomic.Int32
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetches.Add(1)
		<-release
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"token_type":"Bearer","expires_in":3600,"access_token":"tok"}`)
	}))
	t.Cleanup(slow.Close)
	t.Cleanup(func() { close(release) })
	p, err := New(Config{BaseURL: srv.URL, Auth: AuthEntra, ClientID: "app", ClientSecret: "s", TokenURL: slow.URL})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 3)
	for range 3 {
		go func() {
			_, err := p.Chat(ctx, &llm.Request{UpstreamModel: "d", Messages: []llm.Message{llm.TextMessage(llm.RoleUser, "hi")}})
			done <- err
		}()
	}
	for fetches.Load() == 0 {
		time.Sleep(time.Millisecond) // until the fetch is under way
	}
	cancel()
	for range 3 {
		select {
		case err := <-done:
			if err == nil {
				t.Error("a request whose context ended succeeded")
			}
		case <-time.After(30 * time.Second):
			t.Fatal("a request waiting for a token did not return when its context ended")
		}
	}
	if n := fetches.Load(); n != 1 {
		t.Errorf("token fetches = %d, want 1 shared", n)
	}
}
