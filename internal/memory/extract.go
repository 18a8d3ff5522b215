package memory

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/causeway-ai/causeway/internal/gateway"
	"github.com/causeway-ai/causeway/internal/identity"
	"github.com/causeway-ai/causeway/internal/llm"
	"github.com/causeway-ai/causeway/internal/store"
)

// Turn is one stored response's exchange, for extraction: the request's
// user messages and the response's assistant messages, with their item
// ids.
type Turn struct {
	ResponseID     string
	ConversationID string
	// Namespace is the request's memory namespace ("" is the default).
	Namespace string
	Messages  []TurnMessage
}

// TurnMessage is one message of a turn.
type TurnMessage struct {
	ItemID string
	Role   string
	Text   string
}

// Extraction limits.
const (
	// MaxExtracted is the most memories one turn yields; the rest of the
	// model's answer is ignored.
	MaxExtracted = 20
	// maxTurnText bounds the turn text sent to the model (bytes); a
	// longer turn is cut, keeping its start.
	maxTurnText = 32 << 10
)

// extractionPrompt is the system message of an extraction call.
const extractionPrompt = `You maintain a long-term memory about the user of an assistant. Read the conversation turn below and list the durable facts it reveals about the user: who they are, their circumstances, relationships, preferences, plans and constraints that will still hold in later conversations. Write each fact as one short, self-contained sentence in the third person ("The user ..."). Leave out what is only about this conversation, what the assistant said unless the user confirmed it, and anything secret (passwords, keys, card or account numbers). Return {"memories": []} when there is nothing worth remembering.`

// extractionSchema is the JSON schema the model answers in.
var extractionSchema = json.RawMessage(`{"type":"object","properties":{"memories":{"type":"array","items":{"type":"object","properties":{"text":{"type":"string"}},"required":["text"],"additionalProperties":false}}},"required":["memories"],"additionalProperties":false}`)

// Extractor learns memories from turns after they are stored: it asks a
// model, through the gateway and as the caller (so it is metered to
// them), for durable facts about the user, and stores each new one as a
// memory linked to the turn's items and conversation. It works in the
// background: AfterTurn never waits for the model.
type Extractor struct {
	svc      *Service
	complete func(ctx context.Context, p *identity.Principal, req *llm.Request) (string, error)
	model    func() string // the extraction model in force; "" is off
	timeout  time.Duration
	log      *slog.Logger
	slots    chan struct{} // one per extraction running
	pending  chan struct{} // one per extraction queued or running
	wg       sync.WaitGroup
	// mu guards closed: once Close has begun (shutdown), no extraction
	// starts, so no wg.Add races the Wait.
	mu     sync.Mutex
	closed bool
}

// NewExtractor returns an extractor that asks the model that model names
// at each turn (an alias of gw; "" turns extraction off) and writes
// through svc, running at most concurrency extractions at once
// and holding at most queue more; each gets timeout (a minute when ≤ 0).
func NewExtractor(svc *Service, gw *gateway.Gateway, model func() string, timeout time.Duration, concurrency, queue int, log *slog.Logger) *Extractor {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if timeout <= 0 {
		timeout = time.Minute
	}
	return &Extractor{svc: svc, complete: chatText(gw), model: model, timeout: timeout, log: log,
		slots: make(chan struct{}, max(concurrency, 1)), pending: make(chan struct{}, max(concurrency, 1)+max(queue, 0))}
}

// AfterTurn extracts memories from the turn in the background. A turn
// that finds the queue full is not extracted (and logged).
func (x *Extractor) AfterTurn(p *identity.Principal, o store.Owner, t Turn) {
	model := x.model()
	if len(t.Messages) == 0 || model == "" {
		return
	}
	x.mu.Lock()
	if x.closed {
		x.mu.Unlock()
		x.log.Warn("memory extraction skipped: shutting down", slog.String("response_id", t.ResponseID))
		return
	}
	select {
	case x.pending <- struct{}{}:
	default:
		x.mu.Unlock()
		x.log.Warn("memory extraction queue full: turn not extracted", slog.String("response_id", t.ResponseID))
		return
	}
	x.wg.Add(1)
	x.mu.Unlock()
	go func() {
		defer x.wg.Done()
		defer func() { <-x.pending }()
		x.slots <- struct{}{}
		defer func() { <-x.slots }()
		// Detached from the request, which has ended: the extraction has
		// its own deadline.
		ctx, cancel := context.WithTimeout(context.Background(), x.timeout)
		defer cancel()
		ctx = gateway.WithRequestInfo(ctx, &gateway.RequestInfo{ID: gateway.NewRequestID(), Model: model})
		// Its usage (the model call, the memories' embeddings) is tied
		// to the response and conversation it learns from.
		ctx = gateway.WithUsageTie(ctx, t.ResponseID, t.ConversationID)
		n, err := x.extract(ctx, p, o, t, model)
		if err != nil {
			x.log.Warn("memory extraction failed", slog.String("response_id", t.ResponseID), slog.Any("error", err))
			return
		}
		x.log.Debug("memory extraction", slog.String("response_id", t.ResponseID), slog.Int("memories", n))
	}()
}

// Wait returns when every extraction AfterTurn started has finished.
// AfterTurn must not run meanwhile (tests call it between turns);
// shutdown uses Close.
func (x *Extractor) Wait() { x.wg.Wait() }

// Close stops new extractions from starting and waits for those running.
func (x *Extractor) Close() {
	x.mu.Lock()
	x.closed = true
	x.mu.Unlock()
	x.wg.Wait()
}

// Extract runs one extraction now and returns how many memories it
// stored.
func (x *Extractor) Extract(ctx context.Context, p *identity.Principal, o store.Owner, t Turn) (int, error) {
	return x.extract(ctx, p, o, t, x.model())
}

func (x *Extractor) extract(ctx context.Context, p *identity.Principal, o store.Owner, t Turn, model string) (int, error) {
	var turn strings.Builder
	for _, m := range t.Messages {
		fmt.Fprintf(&turn, "%s: %s\n", m.Role, m.Text)
	}
	text := turn.String()
	if len(text) > maxTurnText {
		text = strings.ToValidUTF8(text[:maxTurnText], "")
	}
	req := &llm.Request{Model: model, Messages: []llm.Message{
		llm.TextMessage(llm.RoleSystem, extractionPrompt),
		llm.TextMessage(llm.RoleUser, text),
	}, ResponseFormat: &llm.ResponseFormat{Type: llm.FormatJSONSchema, Name: "memories", Schema: extractionSchema, Strict: ptr(true)}}
	answer, err := x.complete(ctx, p, req)
	if err != nil {
		return 0, err
	}
	var out struct {
		Memories []struct {
			Text string `json:"text"`
		} `json:"memories"`
	}
	if err := json.Unmarshal([]byte(answer), &out); err != nil {
		return 0, fmt.Errorf("memory: extraction answer is not the schema's JSON: %w", err)
	}
	ns := t.Namespace
	if ns == "" {
		ns = DefaultNamespace
	}
	var sources []string
	for _, m := range t.Messages {
		if m.ItemID != "" && len(sources) < MaxSourceItems {
			sources = append(sources, m.ItemID)
		}
	}
	stored := 0
	for i, m := range out.Memories {
		if i == MaxExtracted {
			break
		}
		txt := strings.TrimSpace(m.Text)
		if checkText(txt) != nil {
			continue
		}
		if _, err := x.svc.Store.MemoryWithText(ctx, o, ns, txt); err == nil {
			continue // already known
		} else if !errors.Is(err, store.ErrNotFound) {
			return stored, err
		}
		_, err := x.svc.Create(ctx, p, o, CreateParams{Namespace: ns, Text: txt, SourceItemIDs: sources,
			ConversationID: t.ConversationID, FromResponse: t.ResponseID,
			Metadata: map[string]string{"source": "extraction", "response_id": t.ResponseID}})
		if err != nil {
			if e := llm.AsError(err); e.Kind == llm.KindNotFound {
				break // the response, its conversation or its user was deleted meanwhile
			} else if e.Code == "memory_limit_reached" {
				x.log.Warn("memory extraction stopped: the namespace is full", slog.String("response_id", t.ResponseID))
				break
			}
			return stored, err
		}
		stored++
	}
	return stored, nil
}

// chatText returns a function that runs a chat call through the gateway
// and returns its text.
func chatText(gw *gateway.Gateway) func(ctx context.Context, p *identity.Principal, req *llm.Request) (string, error) {
	return func(ctx context.Context, p *identity.Principal, req *llm.Request) (string, error) {
		return collect(gw.Chat(ctx, p, req))
	}
}

func collect(call *gateway.Call, err error) (string, error) {
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for {
		ev, err := call.Next()
		if errors.Is(err, io.EOF) {
			call.Finish(nil)
			return b.String(), nil
		}
		if err != nil {
			call.Finish(nil)
			return "", err
		}
		if ev.Type == llm.EventText && ev.Choice == 0 {
			b.WriteString(ev.Text)
		}
	}
}

func ptr[T any](v T) *T { return &v }
