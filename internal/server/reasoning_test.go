package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/responses"
	"github.com/openai/openai-go/v3/shared"

	"github.com/causeway-ai/causeway/examples"
	"github.com/causeway-ai/causeway/internal/server"
	"github.com/causeway-ai/causeway/internal/server/servertest"
	"github.com/causeway-ai/causeway/internal/sim"
)

// simRecorder is a reverse proxy in front of the simulator that keeps every
// upstream request body, so a test sees what Causeway sent.
type simRecorder struct {
	srv    *httptest.Server
	mu     sync.Mutex
	target *url.URL
	bodies []string
}

func startSimRecorder(t *testing.T) *simRecorder {
	r := &simRecorder{}
	proxy := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		r.mu.Lock()
		target := r.target
		r.mu.Unlock()
		pr.SetURL(target)
		pr.Out.Host = pr.In.Host // SigV4 signs the host the client dialled
	}}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.bodies = append(r.bodies, req.URL.Path+" "+string(body))
		r.mu.Unlock()
		req.Body = io.NopCloser(bytes.NewReader(body))
		proxy.ServeHTTP(w, req)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

// since returns the bodies recorded from index n on.
func (r *simRecorder) since(n int) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.bodies[n:]...)
}

func (r *simRecorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.bodies)
}

// TestResponsesReasoningAcrossFamilies: reasoning an upstream streams
// becomes a reasoning item (with reasoning_summary_text events); it is
// replayed, signature and all, to the family that made it, and left out,
// with a note, for another family.
func TestResponsesReasoningAcrossFamilies(t *testing.T) {
	rec := startSimRecorder(t)
	yml := strings.ReplaceAll(string(examples.Sim()), "${CAUSEWAY_SIM_URL}", rec.srv.URL)
	e := servertest.Start(t, servertest.Options{Config: yml, Sim: sim.Options{APIKey: "sim-key"}})
	u, _ := url.Parse(e.SimURL)
	rec.mu.Lock()
	rec.target = u
	rec.mu.Unlock()
	_, key := e.CreateKey(t, server.KeyRequest{Name: "r", User: "alice"})
	c := newClient(e.URL, key)
	ctx := context.Background()
	think := shared.ReasoningParam{Effort: shared.ReasoningEffortLow}

	// Turn 1, streamed, on Anthropic with thinking.
	st := c.Responses.NewStreaming(ctx, responses.ResponseNewParams{Model: "sim-anthropic", Reasoning: think,
		Input: textInput("Think about the bridge"), MaxOutputTokens: openai.Int(4096)})
	evs := drain(t, st, 0)
	var types []string
	var summary strings.Builder
	for _, ev := range evs {
		switch ev.Type {
		case "response.reasoning_summary_text.delta":
			summary.WriteString(ev.Delta)
		case "response.output_text.delta", "response.created", "response.in_progress":
			continue
		}
		types = append(types, ev.Type)
	}
	want := []string{"response.output_item.added", "response.reasoning_summary_part.added", "response.reasoning_summary_text.delta"}
	if len(types) < len(want) || strings.Join(types[:3], ",") != strings.Join(want, ",") {
		t.Fatalf("events = %v; want reasoning first", types)
	}
	first := evs[len(evs)-1].Response
	if first.Status != "completed" || len(first.Output) != 2 || first.Output[0].Type != "reasoning" || first.Output[1].Type != "message" {
		t.Fatalf("turn 1 output = %s", first.RawJSON())
	}
	rs := first.Output[0]
	if len(rs.Summary) != 1 || rs.Summary[0].Text == "" || rs.Summary[0].Text != summary.String() || !strings.HasPrefix(rs.ID, "rs_") {
		t.Fatalf("reasoning item = %s; deltas %q", rs.RawJSON(), summary.String())
	}
	var ext struct {
		Causeway struct{ Family, Signature string } `json:"causeway"`
	}
	_ = json.Unmarshal([]byte(rs.RawJSON()), &ext)
	sig := ext.Causeway.Signature
	if ext.Causeway.Family != "anthropic" || sig == "" {
		t.Fatalf("reasoning causeway = %+v; want family anthropic and a signature", ext.Causeway)
	}

	// Turn 2 on Anthropic: the thinking goes back with its signature.
	n := rec.count()
	second, err := c.Responses.New(ctx, responses.ResponseNewParams{Model: "sim-anthropic", Reasoning: think,
		PreviousResponseID: openai.String(first.ID), Input: textInput("Go on"), MaxOutputTokens: openai.Int(4096)})
	if err != nil {
		t.Fatalf("turn 2: %v", err)
	}
	sent := strings.Join(rec.since(n), "\n")
	if !strings.Contains(sent, `"type":"thinking"`) || !strings.Contains(sent, sig) {
		t.Fatalf("turn 2 upstream request lacks the signed thinking block:\n%s", sent)
	}
	if strings.Contains(second.RawJSON(), "not sent") {
		t.Errorf("turn 2 (same family) has a note: %s", second.RawJSON())
	}

	// A store:false client replays the reasoning item itself: its
	// encrypted_content carries the signature back to Anthropic.
	if first.Output[0].EncryptedContent == "" {
		t.Fatalf("reasoning item without encrypted_content: %s", first.Output[0].RawJSON())
	}
	rp := first.Output[0].AsReasoning().ToParam()
	mp := first.Output[1].AsMessage().ToParam()
	n = rec.count()
	_, err = c.Responses.New(ctx, responses.ResponseNewParams{Model: "sim-anthropic", Reasoning: think, Store: openai.Bool(false),
		MaxOutputTokens: openai.Int(4096), Input: responses.ResponseNewParamsInputUnion{OfInputItemList: []responses.ResponseInputItemUnionParam{
			responses.ResponseInputItemParamOfMessage("Think about the bridge", responses.EasyInputMessageRoleUser),
			{OfReasoning: &rp}, {OfOutputMessage: &mp},
			responses.ResponseInputItemParamOfMessage("Go on", responses.EasyInputMessageRoleUser),
		}}})
	if err != nil {
		t.Fatalf("stateless turn: %v", err)
	}
	if sent := strings.Join(rec.since(n), "\n"); !strings.Contains(sent, sig) {
		t.Errorf("the replayed reasoning item's signature did not reach Anthropic:\n%s", sent)
	}

	// Turns 3 and 4 on other families: left out, with a note.
	for _, alias := range []string{"sim-bedrock", "sim-openai"} {
		n := rec.count()
		r, err := c.Responses.New(ctx, responses.ResponseNewParams{Model: alias,
			PreviousResponseID: openai.String(second.ID), Input: textInput("And now?")})
		if err != nil {
			t.Fatalf("%s: %v", alias, err)
		}
		for _, b := range rec.since(n) {
			if strings.Contains(b, sig) {
				t.Errorf("%s upstream request carries Anthropic's signature: %s", alias, b)
			}
		}
		var info struct {
			Causeway struct{ Notes []string } `json:"causeway"`
		}
		_ = json.Unmarshal([]byte(r.RawJSON()), &info)
		if len(info.Causeway.Notes) != 1 || !strings.Contains(info.Causeway.Notes[0], "2 reasoning item(s) made by another provider family were not sent") {
			t.Errorf("%s notes = %q", alias, info.Causeway.Notes)
		}
		if r.OutputText() == "" {
			t.Errorf("%s: no answer", alias)
		}
	}
}
