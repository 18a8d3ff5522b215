package server_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/responses"

	"github.com/causeway-ai/causeway/internal/identity"
	"github.com/causeway-ai/causeway/internal/server"
	"github.com/causeway-ai/causeway/internal/server/servertest"
	"github.com/causeway-ai/causeway/internal/sim"
	"github.com/causeway-ai/causeway/internal/store"
)

// stallFault holds the next request for gpt-4.1-mini until it is
// abandoned.
var stallFault = sim.Fault{Model: "gpt-4.1-mini", StallMS: 600000, Count: 1}

// drain reads a stream to its end and returns its events, checking that
// sequence numbers go up by one from first.
func drain(t *testing.T, st interface {
	Next() bool
	Current() responses.ResponseStreamEventUnion
	Err() error
}, first int64) []responses.ResponseStreamEventUnion {
	t.Helper()
	var evs []responses.ResponseStreamEventUnion
	for st.Next() {
		ev := st.Current()
		if want := first + int64(len(evs)); ev.SequenceNumber != want {
			t.Fatalf("event %d (%s) has sequence_number %d, want %d", len(evs), ev.Type, ev.SequenceNumber, want)
		}
		evs = append(evs, ev)
	}
	if err := st.Err(); err != nil {
		t.Fatalf("stream: %v", err)
	}
	return evs
}

func deltas(evs []responses.ResponseStreamEventUnion) string {
	var b strings.Builder
	for _, ev := range evs {
		if ev.Type == "response.output_text.delta" {
			b.WriteString(ev.Delta)
		}
	}
	return b.String()
}

// TestResponsesBackground: a background response is returned queued at
// once, runs to completion, and its stream can be followed while it runs
// and read afterwards.
func TestResponsesBackground(t *testing.T) {
	forStores(t, func(t *testing.T, kind string) {
		env := startResponses(t, kind)
		ctx := context.Background()
		r, err := env.c.Responses.New(ctx, responses.ResponseNewParams{Model: "sim-openai",
			Input: textInput("Work on this in the background"), Background: openai.Bool(true)})
		if err != nil {
			t.Fatalf("create: %v", err)
		}
		if r.Status != "queued" || !r.Background || !strings.HasPrefix(r.ID, "resp_") || len(r.Output) != 0 {
			t.Fatalf("create = status %q background %v id %q output %d; want a queued background response", r.Status, r.Background, r.ID, len(r.Output))
		}
		// Following the stream returns when the run ends.
		evs := drain(t, env.c.Responses.GetStreaming(ctx, r.ID, responses.ResponseGetParams{}), 0)
		var types []string
		for _, ev := range evs {
			types = append(types, ev.Type)
		}
		if len(evs) < 6 || types[0] != "response.created" || types[1] != "response.queued" || types[2] != "response.in_progress" ||
			types[len(types)-1] != "response.completed" {
			t.Fatalf("events = %v; want created, queued, in_progress … completed", types)
		}
		if evs[0].Response.Status != "queued" || evs[2].Response.Status != "in_progress" {
			t.Errorf("created/in_progress statuses = %q/%q", evs[0].Response.Status, evs[2].Response.Status)
		}
		got, err := env.c.Responses.Get(ctx, r.ID, responses.ResponseGetParams{})
		if err != nil {
			t.Fatalf("get: %v", err)
		}
		if got.Status != "completed" || !got.Background || got.OutputText() == "" || got.OutputText() != deltas(evs) {
			t.Fatalf("get = status %q background %v text %q; deltas %q", got.Status, got.Background, got.OutputText(), deltas(evs))
		}
		if got.Usage.OutputTokens == 0 {
			t.Errorf("usage = %+v, want output tokens", got.Usage)
		}
		// It chains like any stored response.
		next, err := env.c.Responses.New(ctx, responses.ResponseNewParams{Model: "sim-openai",
			Input: textInput("And then?"), PreviousResponseID: openai.String(r.ID)})
		if err != nil || next.Status != "completed" {
			t.Fatalf("chained on a background response: %v, %v", next, err)
		}
		items, err := env.c.Responses.InputItems.List(ctx, r.ID, responses.InputItemListParams{})
		if err != nil || len(items.Data) != 1 {
			t.Fatalf("input items = %v, %v; want the one input", items, err)
		}
	})
}

// TestResponsesBackgroundStreamSurvivesDisconnect: a streamed background
// response goes on when its client goes away, and the client resumes the
// stream where it left off.
func TestResponsesBackgroundStreamSurvivesDisconnect(t *testing.T) {
	e := servertest.Start(t, servertest.Options{Sim: sim.Options{ITL: 20 * time.Millisecond}})
	_, key := e.CreateKey(t, server.KeyRequest{Name: "alice", User: "alice"})
	c := newClient(e.URL, key)
	ctx, cancel := context.WithCancel(context.Background())
	st := c.Responses.NewStreaming(ctx, responses.ResponseNewParams{Model: "sim-openai",
		Input: textInput("Stream in the background"), Background: openai.Bool(true)})
	var id string
	last := int64(-1)
	var first []responses.ResponseStreamEventUnion
	for st.Next() {
		ev := st.Current()
		first = append(first, ev)
		id, last = ev.Response.ID, ev.SequenceNumber
		if ev.Type == "response.output_text.delta" {
			id = first[0].Response.ID
			break
		}
	}
	// The client goes away mid-stream.
	cancel()
	st.Close()
	if id == "" || last < 3 {
		t.Fatalf("read %d events before disconnecting (last seq %d); want the run under way", len(first), last)
	}
	rest := drain(t, c.Responses.GetStreaming(context.Background(), id, responses.ResponseGetParams{StartingAfter: openai.Int(last)}), last+1)
	if len(rest) == 0 || rest[len(rest)-1].Type != "response.completed" {
		t.Fatalf("resumed stream: %d events, want it to run on to response.completed", len(rest))
	}
	got, err := c.Responses.Get(context.Background(), id, responses.ResponseGetParams{})
	if err != nil || got.Status != "completed" {
		t.Fatalf("get = %v, %v; want completed", got, err)
	}
	if want := deltas(first) + deltas(rest); got.OutputText() != want {
		t.Errorf("text = %q, want the events' %q", got.OutputText(), want)
	}
}

// TestResponsesBackgroundCancel: cancel stops a running background
// response, which is kept as cancelled; only background responses can be
// cancelled, and only by their owner.
func TestResponsesBackgroundCancel(t *testing.T) {
	forStores(t, func(t *testing.T, kind string) {
		env := startResponses(t, kind)
		ctx := context.Background()
		addFault(t, env.e, stallFault)
		r, err := env.c.Responses.New(ctx, responses.ResponseNewParams{Model: "sim-openai",
			Input: textInput("This will hang"), Background: openai.Bool(true)})
		if err != nil || r.Status != "queued" {
			t.Fatalf("create = %v, %v", r, err)
		}
		// Another user cannot cancel it.
		_, bob := env.e.CreateKey(t, server.KeyRequest{Name: "bob", User: "bob"})
		bc := newClient(env.e.URL, bob)
		if _, err := bc.Responses.Cancel(ctx, r.ID); oaiStatus(err) != 404 {
			t.Fatalf("bob's cancel: %v; want 404", err)
		}
		c, err := env.c.Responses.Cancel(ctx, r.ID)
		if err != nil {
			t.Fatalf("cancel: %v", err)
		}
		if c.Status != "cancelled" || c.ID != r.ID {
			t.Fatalf("cancel = %s %q; want cancelled", c.ID, c.Status)
		}
		got, err := env.c.Responses.Get(ctx, r.ID, responses.ResponseGetParams{})
		if err != nil || got.Status != "cancelled" {
			t.Fatalf("get after cancel = %v, %v", got, err)
		}
		// Cancelling again returns it as it is.
		if again, err := env.c.Responses.Cancel(ctx, r.ID); err != nil || again.Status != "cancelled" {
			t.Fatalf("second cancel = %v, %v", again, err)
		}
		// A foreground response cannot be cancelled.
		fg, err := env.c.Responses.New(ctx, responses.ResponseNewParams{Model: "sim-openai", Input: textInput("Hi")})
		if err != nil {
			t.Fatalf("create: %v", err)
		}
		_, err = env.c.Responses.Cancel(ctx, fg.ID)
		if oaiStatus(err) != 400 || !strings.Contains(oaiMessage(err), "Cannot cancel a synchronous response") {
			t.Fatalf("cancel of a foreground response: %v; want 400", err)
		}
		if _, err := env.c.Responses.Cancel(ctx, "resp_nope"); oaiStatus(err) != 404 {
			t.Fatalf("cancel of an unknown id: %v; want 404", err)
		}
		// background with store:false is refused.
		_, err = env.c.Responses.New(ctx, responses.ResponseNewParams{Model: "sim-openai", Input: textInput("x"),
			Background: openai.Bool(true), Store: openai.Bool(false)})
		if oaiStatus(err) != 400 {
			t.Fatalf("background without store: %v; want 400", err)
		}
	})
}

// TestResponsesBackgroundAcrossReplicas: two gateways on one PostgreSQL
// database. A response running on the first is followed and cancelled
// through the second.
func TestResponsesBackgroundAcrossReplicas(t *testing.T) {
	a := servertest.Start(t, servertest.Options{Store: "postgres"})
	b := servertest.Start(t, servertest.Options{DSN: a.DSN})
	_, key := a.CreateKey(t, server.KeyRequest{Name: "alice", User: "alice"})
	ca, cb := newClient(a.URL, key), newClient(b.URL, key)
	ctx := context.Background()

	// Followed at the other replica: it polls the store to the end.
	r, err := ca.Responses.New(ctx, responses.ResponseNewParams{Model: "sim-openai",
		Input: textInput("Run on A"), Background: openai.Bool(true)})
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	evs := drain(t, cb.Responses.GetStreaming(ctx, r.ID, responses.ResponseGetParams{}), 0)
	if len(evs) == 0 || evs[len(evs)-1].Type != "response.completed" {
		t.Fatalf("followed at B: %d events, want to response.completed", len(evs))
	}

	// Cancelled at the other replica: the run at A stops.
	addFault(t, a, stallFault)
	r, err = ca.Responses.New(ctx, responses.ResponseNewParams{Model: "sim-openai",
		Input: textInput("Hang on A"), Background: openai.Bool(true)})
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	c, err := cb.Responses.Cancel(ctx, r.ID)
	if err != nil || c.Status != "cancelled" {
		t.Fatalf("cancel at B = %v, %v", c, err)
	}
	// Following at A returns once A's run has noticed and stopped.
	drain(t, ca.Responses.GetStreaming(ctx, r.ID, responses.ResponseGetParams{}), 0)
	got, err := ca.Responses.Get(ctx, r.ID, responses.ResponseGetParams{})
	if err != nil || got.Status != "cancelled" {
		t.Fatalf("at A after the cancel = %v, %v; want cancelled", got, err)
	}
}

// TestResponsesBackgroundLeaseLapsed: a background response whose
// gateway stopped (its lease lapsed) reads as failed, not in progress
// forever.
func TestResponsesBackgroundLeaseLapsed(t *testing.T) {
	env := startResponses(t, "sqlite")
	ctx := context.Background()
	body, _ := json.Marshal(map[string]any{"id": "resp_orphan", "object": "response", "status": "in_progress",
		"background": true, "model": "sim-openai", "output": []any{}, "created_at": 1})
	o := store.Owner{Tenant: identity.DefaultTenant, Subject: "alice"}
	err := env.e.Store.CreateBackground(ctx, o, &store.Response{ID: "resp_orphan", Model: "sim-openai", Status: "in_progress",
		Store: true, Body: body, Background: true, LeaseUntil: time.Now().Add(-time.Minute)})
	if err != nil {
		t.Fatalf("store: %v", err)
	}
	got, err := env.c.Responses.Get(ctx, "resp_orphan", responses.ResponseGetParams{})
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	if got.Status != "failed" || !strings.Contains(got.Error.Message, "stopped before it finished") {
		t.Fatalf("get = status %q error %+v; want failed", got.Status, got.Error)
	}
	if c, err := env.c.Responses.Cancel(ctx, "resp_orphan"); err != nil || c.Status != "failed" {
		t.Fatalf("cancel of the ended response = %v, %v; want it as it is", c, err)
	}
}
