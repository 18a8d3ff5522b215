package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/responses"

	"github.com/causeway-ai/causeway/internal/identity"
	"github.com/causeway-ai/causeway/internal/server"
	"github.com/causeway-ai/causeway/internal/server/servertest"
	"github.com/causeway-ai/causeway/internal/store"
)

// stallUp: an upstream that stalls a request whose body has STALL (after a
// first delta) until release is closed, cuts one with CUT (no [DONE]),
// and answers others at once. bodies records the request bodies.
type stallUp struct {
	release chan struct{}
	mu      sync.Mutex
	bodies  []string
}

func (u *stallUp) start(t *testing.T) string {
	u.release = make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		u.mu.Lock()
		u.bodies = append(u.bodies, string(b))
		u.mu.Unlock()
		if !strings.Contains(string(b), `"stream":true`) {
			w.Header().Set("Content-Type", "application/json")
			if strings.Contains(string(b), "CUT") {
				fmt.Fprint(w, `{"id":"c1","object":"chat.compl`) // cut short
				return
			}
			fmt.Fprint(w, `{"id":"c1","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"whole"},"finish_reason":"stop"}],"usage":{"prompt_tokens":5,"completion_tokens":3,"total_tokens":8}}`)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		chunk := func(d string) {
			fmt.Fprintf(w, "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[%s]}\n\n", d)
			w.(http.Flusher).Flush()
		}
		chunk(`{"index":0,"delta":{"role":"assistant","content":"ok "},"finish_reason":null}`)
		s := string(b)
		if strings.Contains(s, "CUT") {
			return
		}
		if strings.Contains(s, "STALL") {
			select {
			case <-u.release:
			case <-r.Context().Done():
				return
			}
		}
		chunk(`{"index":0,"delta":{"content":"done"},"finish_reason":null}`)
		chunk(`{"index":0,"delta":{},"finish_reason":"stop"}`)
		fmt.Fprint(w, "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":3,\"total_tokens\":8}}\n\n")
		fmt.Fprint(w, "data: [DONE]\n\n")
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() {
		select {
		case <-u.release:
		default:
			close(u.release)
		}
	})
	return srv.URL
}

func stallEnv(t *testing.T, kind string) (*stallUp, *servertest.Env, openai.Client, string) {
	u := &stallUp{}
	url := u.start(t)
	yml := `
log: {level: warn, requests: false}
metering: {flush_interval: 20ms, drain_timeout: 10s}
providers:
  - name: fake
    type: openai
    base_url: ` + url + `/v1
models:
  - alias: fake
    targets: [{provider: fake, model: m, price: {input_per_mtok: 1, output_per_mtok: 1}}]
`
	e := servertest.Start(t, servertest.Options{Config: yml, Store: kind})
	_, key := e.CreateKey(t, server.KeyRequest{Name: "alice", User: "alice"})
	return u, e, newClient(e.URL, key), key
}

// startStalled streams a STALL request and returns its id once the
// response reads in_progress.
func startStalled(t *testing.T, c openai.Client, p responses.ResponseNewParams) (string, interface {
	Next() bool
	Current() responses.ResponseStreamEventUnion
	Err() error
}) {
	st := c.Responses.NewStreaming(context.Background(), p)
	var id string
	for st.Next() {
		if ev := st.Current(); ev.Type == "response.output_text.delta" {
			break
		} else if ev.Type == "response.created" {
			id = ev.Response.ID
		}
	}
	if id == "" {
		t.Fatal("no response.created", st.Err())
	}
	return id, st
}

// A non-streamed stored response whose upstream fails mid-stream at step
// 1 is the client's error: no response row is left behind.
func TestPendingRowNotLeftOnWholeFailure(t *testing.T) {
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			_, e, c, key := stallEnv(t, kind)
			_, err := c.Responses.New(context.Background(), responses.ResponseNewParams{Model: "fake", Input: textInput("CUT")})
			t.Logf("create: status %d %q", oaiStatus(err), oaiMessage(err))
			if err == nil {
				t.Fatal("want an error")
			}
			req, _ := http.NewRequest("GET", e.URL+"/v1/responses", nil)
			req.Header.Set("Authorization", "Bearer "+key)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			var l struct {
				Data []struct{ ID, Status string }
			}
			_ = json.NewDecoder(res.Body).Decode(&l)
			if len(l.Data) != 0 {
				t.Errorf("a request answered with an error left %d stored response(s): %+v", len(l.Data), l.Data)
			}
		})
	}
}

// previous_response_id naming a stored response still running is a 400
// (its items are written when it ends: it cannot be continued yet).
func TestPreviousResponseInProgress(t *testing.T) {
	u, _, c, _ := stallEnv(t, "sqlite")
	a, st := startStalled(t, c, responses.ResponseNewParams{Model: "fake", Input: textInput("STALL the word is XYZZY")})
	defer func() {
		close(u.release)
		for st.Next() {
		}
	}()
	b, err := c.Responses.New(context.Background(), responses.ResponseNewParams{Model: "fake", Input: textInput("what was the word?"),
		PreviousResponseID: openai.String(a)})
	if oaiStatus(err) != 400 || !strings.Contains(oaiMessage(err), "still in progress") {
		t.Errorf("B with previous_response_id=%s (in progress) = %v, %v; want 400 still in progress (not an answer without A's context)", a, b, err)
	}
}

// DELETE of a stored foreground response while it runs is a 400; the
// response completes, and can be deleted then.
func TestDeleteWhileRunning(t *testing.T) {
	u, _, c, _ := stallEnv(t, "sqlite")
	a, st := startStalled(t, c, responses.ResponseNewParams{Model: "fake", Input: textInput("STALL")})
	derr := c.Responses.Delete(context.Background(), a)
	if oaiStatus(derr) != 400 || !strings.Contains(oaiMessage(derr), "still in progress") {
		t.Errorf("DELETE while running: %v; want 400 still in progress", derr)
	}
	close(u.release)
	var last responses.ResponseStreamEventUnion
	for st.Next() {
		last = st.Current()
	}
	if last.Type != "response.completed" {
		t.Errorf("stream ended %s (%q), want response.completed", last.Type, last.Response.Error.Message)
	}
	if err := c.Responses.Delete(context.Background(), a); err != nil {
		t.Errorf("DELETE once ended: %v", err)
	}
}

// A stored foreground response running in this process reads in_progress
// even once its row's lease has lapsed (simulated), and completed after.
func TestPendingLeaseLapseWhileRunningHere(t *testing.T) {
	u, e, c, _ := stallEnv(t, "sqlite")
	a, st := startStalled(t, c, responses.ResponseNewParams{Model: "fake", Input: textInput("STALL")})
	o := store.Owner{Tenant: identity.DefaultTenant, Subject: "alice"}
	if err := e.Store.UpdateBackground(context.Background(), o, a, "", nil, time.Now().Add(-time.Second)); err != nil {
		t.Fatalf("UpdateBackground on a foreground row: %v", err)
	}
	got, err := c.Responses.Get(context.Background(), a, responses.ResponseGetParams{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != "in_progress" {
		t.Errorf("GET while it still runs here (lease lapsed) = %s %q; want in_progress", got.Status, got.Error.Message)
	}
	close(u.release)
	for st.Next() {
	}
	if got, _ = c.Responses.Get(context.Background(), a, responses.ResponseGetParams{}); got.Status != "completed" {
		t.Errorf("GET after = %s, want completed", got.Status)
	}
}
