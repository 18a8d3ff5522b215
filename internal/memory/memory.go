// Package memory is Causeway's long-term memory: short texts a subject
// (a key's user) asks the gateway to remember, kept per tenant, subject
// and namespace, and found again by full-text search — through the
// /v1/memories API, and by the runtime (Recall and Format) to put what it
// finds into a model's context with a visible marker.
//
// It validates and applies the rules (limits, defaults, ids) and turns the
// store's errors into llm.Error kinds. It never speaks HTTP and never
// writes SQL: storage is the Store interface, which *store.Store
// implements, and every call is scoped by tenant and subject, so another
// subject's memory is not found rather than forbidden.
package memory

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/causeway-ai/causeway/internal/identity"
	"github.com/causeway-ai/causeway/internal/llm"
	"github.com/causeway-ai/causeway/internal/store"
)

// Store is the storage the service needs. *store.Store implements it.
type Store interface {
	CreateMemory(ctx context.Context, o store.Owner, m *store.Memory) error
	GetMemory(ctx context.Context, o store.Owner, id string) (*store.Memory, error)
	UpdateMemory(ctx context.Context, o store.Owner, m *store.Memory) error
	DeleteMemory(ctx context.Context, o store.Owner, id string) error
	DeleteMemories(ctx context.Context, o store.Owner, namespace string) (int64, error)
	ListMemories(ctx context.Context, o store.Owner, namespace string, p store.Page) ([]store.Memory, bool, error)
	SearchMemories(ctx context.Context, o store.Owner, namespace, query string, limit int) ([]store.MemoryHit, error)
	EraseSubject(ctx context.Context, o store.Owner) (store.Erased, error)
	GetConversation(ctx context.Context, o store.Owner, id string) (*store.Conversation, error)
	MemoryVectors(ctx context.Context, o store.Owner, namespace, model string, dims int) ([]store.MemoryVector, error)
	GetMemories(ctx context.Context, o store.Owner, ids []string) ([]store.Memory, error)
	MemoryWithText(ctx context.Context, o store.Owner, namespace, text string) (*store.Memory, error)
}

var _ Store = (*store.Store)(nil)

// Limits.
const (
	// DefaultNamespace is the namespace of a request that names none.
	DefaultNamespace = "default"
	// MaxNamespace is the longest namespace, in bytes.
	MaxNamespace = 64
	// MaxText is the longest memory text, in bytes.
	MaxText = 16 << 10
	// MaxMetadata is the most metadata pairs; keys are up to 64 bytes
	// and values up to 512, as for OpenAI's metadata.
	MaxMetadata = 16
	// MaxSourceItems is the most source item ids a memory may name.
	MaxSourceItems = 64
	// DefaultSearchLimit and MaxSearchLimit bound a search's results.
	DefaultSearchLimit = 5
	MaxSearchLimit     = 50
	// DefaultListLimit and MaxListLimit bound a list page.
	DefaultListLimit = 20
	MaxListLimit     = 100
)

// Record is a memory as the API shows it.
type Record struct {
	ID            string            `json:"id"`
	Object        string            `json:"object"`
	Namespace     string            `json:"namespace"`
	Text          string            `json:"text"`
	Metadata      map[string]string `json:"metadata"`
	SourceItemIDs []string          `json:"source_item_ids"`
	// ConversationID is the conversation the memory came from, or null.
	ConversationID *string `json:"conversation_id"`
	CreatedAt      int64   `json:"created_at"`
	UpdatedAt      int64   `json:"updated_at"`
}

func recordOf(m *store.Memory) Record {
	r := Record{ID: m.ID, Object: "memory", Namespace: m.Namespace, Text: m.Text, Metadata: m.Metadata,
		SourceItemIDs: m.SourceItemIDs, CreatedAt: m.CreatedAt.Unix(), UpdatedAt: m.UpdatedAt.Unix()}
	if m.ConversationID != "" {
		c := m.ConversationID
		r.ConversationID = &c
	}
	if r.Metadata == nil {
		r.Metadata = map[string]string{}
	}
	if r.SourceItemIDs == nil {
		r.SourceItemIDs = []string{}
	}
	return r
}

// Hit is one search result.
type Hit struct {
	Memory Record  `json:"memory"`
	Score  float64 `json:"score"`
}

// CreateParams is the body of POST /v1/memories.
type CreateParams struct {
	Namespace     string            `json:"namespace"`
	Text          string            `json:"text"`
	Metadata      map[string]string `json:"metadata"`
	SourceItemIDs []string          `json:"source_item_ids"`
	// ConversationID links the memory to one of the caller's
	// conversations: deleting the conversation deletes the memory.
	ConversationID string `json:"conversation_id"`
	// FromResponse (extraction only) is the response the memory was
	// learnt from: if it is gone by the time the memory is written (the
	// user was erased, the response or its conversation deleted), the
	// memory is not written.
	FromResponse string `json:"-"`
}

// UpdateParams is the body of PATCH /v1/memories/{id}: the fields given
// replace the memory's.
type UpdateParams struct {
	Text          *string            `json:"text"`
	Metadata      *map[string]string `json:"metadata"`
	SourceItemIDs *[]string          `json:"source_item_ids"`
}

// ListParams asks for one page of a namespace's memories.
type ListParams struct {
	Namespace string
	After     string
	Limit     int
	// Asc lists oldest first; the default is newest first.
	Asc bool
}

// Page is one page of memories.
type Page struct {
	Object  string   `json:"object"`
	Data    []Record `json:"data"`
	FirstID *string  `json:"first_id"`
	LastID  *string  `json:"last_id"`
	HasMore bool     `json:"has_more"`
}

// SearchParams is the body of POST /v1/memories/search.
type SearchParams struct {
	Query     string `json:"query"`
	Namespace string `json:"namespace"`
	Limit     *int   `json:"limit"`
	// Mode is "hybrid" (the default: full text fused with vector
	// similarity when an embedding model is configured, full text
	// alone otherwise), "text" or "vector".
	Mode string `json:"mode"`
}

// Results is the answer to a search.
type Results struct {
	Object string `json:"object"`
	Data   []Hit  `json:"data"`
}

// Deleted is the answer to deleting one memory.
type Deleted struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Deleted bool   `json:"deleted"`
}

// NamespaceDeleted is the answer to deleting a namespace's memories.
type NamespaceDeleted struct {
	Object    string `json:"object"`
	Namespace string `json:"namespace"`
	Deleted   int64  `json:"deleted"`
}

// Receipt is the proof of an erasure: what was deleted, for whom, when.
type Receipt struct {
	Object  string       `json:"object"`
	Tenant  string       `json:"tenant"`
	Subject string       `json:"subject"`
	Deleted ErasedCounts `json:"deleted"`
	At      int64        `json:"at"`
}

// ErasedCounts counts the rows an erasure deleted.
type ErasedCounts struct {
	Responses     int64 `json:"responses"`
	Conversations int64 `json:"conversations"`
	Items         int64 `json:"items"`
	Events        int64 `json:"events"`
	Memories      int64 `json:"memories"`
	// Vectors counts the memories' embedding vectors.
	Vectors int64 `json:"vectors"`
}

// Counts is what a store's deletion counts become in a receipt.
func Counts(e store.Erased) ErasedCounts {
	return ErasedCounts{Responses: e.Responses, Conversations: e.Conversations, Items: e.Items,
		Events: e.Events, Memories: e.Memories, Vectors: e.Vectors}
}

// Service is the memory API over a Store.
type Service struct {
	Store Store
	// Embedder and EmbeddingModel, when both set, embed every memory
	// written and every query, as the caller: search and recall then
	// fuse full-text and vector ranking (see Search).
	Embedder       Embedder
	EmbeddingModel string
	// Model, when set, is asked for the embedding model at each use
	// instead of EmbeddingModel (a configuration reload changes it).
	Model func() string
	// Cap, when set, returns how many memories a user may keep in one
	// namespace (memory.max_per_namespace); nil means no cap.
	Cap func() int
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC().Truncate(time.Microsecond)
	}
	return time.Now().UTC().Truncate(time.Microsecond)
}

func invalid(param, code, format string, args ...any) error {
	return (&llm.Error{Kind: llm.KindInvalid, Param: param, Message: fmt.Sprintf(format, args...)}).WithCode(code)
}

func notFound(id string) error {
	return (&llm.Error{Kind: llm.KindNotFound, Param: "id",
		Message: fmt.Sprintf("Memory with id '%s' not found.", id)}).WithCode("not_found")
}

func mapErr(err error, id string) error {
	if errors.Is(err, store.ErrNotFound) {
		return notFound(id)
	}
	return err
}

func namespace(ns string) (string, error) {
	if ns == "" {
		return DefaultNamespace, nil
	}
	if len(ns) > MaxNamespace {
		return "", invalid("namespace", "string_above_max_length",
			"Invalid 'namespace': string too long. Expected a string with maximum length %d, but got a string with length %d instead.", MaxNamespace, len(ns))
	}
	for _, r := range ns {
		if r < 0x20 || r == 0x7f {
			return "", invalid("namespace", "invalid_value", "Invalid 'namespace': control characters are not allowed.")
		}
	}
	return ns, nil
}

func checkText(t string) error {
	if strings.TrimSpace(t) == "" {
		return invalid("text", "empty_string", "Invalid 'text': empty string. Expected a non-empty string.")
	}
	if len(t) > MaxText {
		return invalid("text", "string_above_max_length",
			"Invalid 'text': string too long. Expected a string with maximum length %d, but got a string with length %d instead.", MaxText, len(t))
	}
	return nil
}

func checkMetadata(m map[string]string) error {
	if len(m) > MaxMetadata {
		return invalid("metadata", "object_above_max_properties",
			"Invalid 'metadata': too many properties. Expected an object with at most %d properties, but got an object with %d properties instead.", MaxMetadata, len(m))
	}
	for k, v := range m {
		if len(k) > 64 {
			return invalid("metadata", "invalid_metadata",
				"Invalid 'metadata': key '%s' is too long. Expected a key with maximum length 64, but got a key with length %d instead.", k, len(k))
		}
		if len(v) > 512 {
			return invalid("metadata."+k, "string_above_max_length",
				"Invalid 'metadata.%s': string too long. Expected a string with maximum length 512, but got a string with length %d instead.", k, len(v))
		}
	}
	return nil
}

func checkSources(ids []string) error {
	if len(ids) > MaxSourceItems {
		return invalid("source_item_ids", "array_above_max_length",
			"Invalid 'source_item_ids': array too long. Expected an array with maximum length %d, but got an array with length %d instead.", MaxSourceItems, len(ids))
	}
	for i, id := range ids {
		if id == "" || len(id) > 128 {
			return invalid("source_item_ids["+strconv.Itoa(i)+"]", "invalid_value",
				"Invalid 'source_item_ids[%d]': expected an item id of 1 to 128 characters.", i)
		}
	}
	return nil
}

// Create stores a new memory for the owner; with an embedding model, its
// vector too, embedded as the principal.
func (s *Service) Create(ctx context.Context, pr *identity.Principal, o store.Owner, p CreateParams) (*Record, error) {
	ns, err := namespace(p.Namespace)
	if err != nil {
		return nil, err
	}
	if err := checkText(p.Text); err != nil {
		return nil, err
	}
	if err := checkMetadata(p.Metadata); err != nil {
		return nil, err
	}
	if err := checkSources(p.SourceItemIDs); err != nil {
		return nil, err
	}
	if p.ConversationID != "" {
		if _, err := s.Store.GetConversation(ctx, o, p.ConversationID); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return nil, (&llm.Error{Kind: llm.KindNotFound, Param: "conversation_id",
					Message: fmt.Sprintf("Conversation with id '%s' not found.", p.ConversationID)}).WithCode("not_found")
			}
			return nil, err
		}
	}
	now := s.now()
	m := &store.Memory{ID: identity.NewID("mem_"), Namespace: ns, Text: p.Text, Metadata: p.Metadata,
		SourceItemIDs: p.SourceItemIDs, ConversationID: p.ConversationID, FromResponse: p.FromResponse, CreatedAt: now, UpdatedAt: now}
	if s.Cap != nil {
		m.Cap = s.Cap()
	}
	if m.Vector, err = s.embedding(ctx, pr, p.Text); err != nil {
		return nil, err
	}
	if err := s.Store.CreateMemory(ctx, o, m); err != nil {
		switch {
		case errors.Is(err, store.ErrLimit):
			return nil, invalid("namespace", "memory_limit_reached",
				"Namespace '%s' holds the most memories a user may keep in one (%d): delete some first.", ns, m.Cap)
		case errors.Is(err, store.ErrNotFound) && p.FromResponse != "":
			return nil, &llm.Error{Kind: llm.KindNotFound, Message: "The response the memory was learnt from is gone.", Err: err}
		case errors.Is(err, store.ErrNotFound) && p.ConversationID != "":
			return nil, (&llm.Error{Kind: llm.KindNotFound, Param: "conversation_id",
				Message: fmt.Sprintf("Conversation with id '%s' not found.", p.ConversationID)}).WithCode("not_found")
		}
		return nil, err
	}
	r := recordOf(m)
	return &r, nil
}

// Get returns the owner's memory.
func (s *Service) Get(ctx context.Context, o store.Owner, id string) (*Record, error) {
	m, err := s.Store.GetMemory(ctx, o, id)
	if err != nil {
		return nil, mapErr(err, id)
	}
	r := recordOf(m)
	return &r, nil
}

// Update changes the fields of the owner's memory that p sets, and
// embeds its text again (as the principal) when there is an embedding
// model.
func (s *Service) Update(ctx context.Context, pr *identity.Principal, o store.Owner, id string, p UpdateParams) (*Record, error) {
	if p.Text != nil {
		if err := checkText(*p.Text); err != nil {
			return nil, err
		}
	}
	if p.Metadata != nil {
		if err := checkMetadata(*p.Metadata); err != nil {
			return nil, err
		}
	}
	if p.SourceItemIDs != nil {
		if err := checkSources(*p.SourceItemIDs); err != nil {
			return nil, err
		}
	}
	m, err := s.Store.GetMemory(ctx, o, id)
	if err != nil {
		return nil, mapErr(err, id)
	}
	if p.Text != nil {
		m.Text = *p.Text
	}
	if p.Metadata != nil {
		m.Metadata = *p.Metadata
	}
	if p.SourceItemIDs != nil {
		m.SourceItemIDs = *p.SourceItemIDs
	}
	m.UpdatedAt = s.now()
	if m.Vector, err = s.embedding(ctx, pr, m.Text); err != nil {
		return nil, err
	}
	if err := s.Store.UpdateMemory(ctx, o, m); err != nil {
		return nil, mapErr(err, id)
	}
	r := recordOf(m)
	return &r, nil
}

// Delete deletes the owner's memory.
func (s *Service) Delete(ctx context.Context, o store.Owner, id string) (*Deleted, error) {
	if err := s.Store.DeleteMemory(ctx, o, id); err != nil {
		return nil, mapErr(err, id)
	}
	return &Deleted{ID: id, Object: "memory.deleted", Deleted: true}, nil
}

// DeleteNamespace deletes all the owner's memories in a namespace, which
// must be named: an empty one is refused rather than read as the default,
// so that a bare DELETE /v1/memories erases nothing by accident.
func (s *Service) DeleteNamespace(ctx context.Context, o store.Owner, ns string) (*NamespaceDeleted, error) {
	if ns == "" {
		return nil, invalid("namespace", "missing_required_parameter",
			"Missing required parameter: 'namespace'. Deleting memories in bulk needs ?namespace=.")
	}
	ns, err := namespace(ns)
	if err != nil {
		return nil, err
	}
	n, err := s.Store.DeleteMemories(ctx, o, ns)
	if err != nil {
		return nil, err
	}
	return &NamespaceDeleted{Object: "memory.namespace.deleted", Namespace: ns, Deleted: n}, nil
}

// List returns one page of the owner's memories in a namespace.
func (s *Service) List(ctx context.Context, o store.Owner, p ListParams) (*Page, error) {
	ns, err := namespace(p.Namespace)
	if err != nil {
		return nil, err
	}
	limit := p.Limit
	if limit == 0 {
		limit = DefaultListLimit
	}
	if limit < 1 || limit > MaxListLimit {
		return nil, invalid("limit", "invalid_value", "Invalid 'limit': expected an integer between 1 and %d.", MaxListLimit)
	}
	ms, more, err := s.Store.ListMemories(ctx, o, ns, store.Page{After: p.After, Limit: limit, Desc: !p.Asc})
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, (&llm.Error{Kind: llm.KindNotFound, Param: "after",
				Message: fmt.Sprintf("Memory with id '%s' not found.", p.After)}).WithCode("not_found")
		}
		return nil, err
	}
	pg := &Page{Object: "list", Data: make([]Record, len(ms)), HasMore: more}
	for i := range ms {
		pg.Data[i] = recordOf(&ms[i])
	}
	if len(ms) > 0 {
		first, last := ms[0].ID, ms[len(ms)-1].ID
		pg.FirstID, pg.LastID = &first, &last
	}
	return pg, nil
}

// Search ranks the owner's memories in a namespace by relevance to the
// query: full-text relevance, and, with an embedding model, cosine
// similarity of the query's vector (embedded as the principal) to the
// memories', the two rankings' top FusionDepth fused by Reciprocal Rank
// Fusion (RRFK). A hit's score is then the fused score.
func (s *Service) Search(ctx context.Context, pr *identity.Principal, o store.Owner, p SearchParams) (*Results, error) {
	if strings.TrimSpace(p.Query) == "" {
		return nil, invalid("query", "empty_string", "Invalid 'query': empty string. Expected a non-empty string.")
	}
	if len(p.Query) > MaxText {
		return nil, invalid("query", "string_above_max_length",
			"Invalid 'query': string too long. Expected a string with maximum length %d, but got a string with length %d instead.", MaxText, len(p.Query))
	}
	ns, err := namespace(p.Namespace)
	if err != nil {
		return nil, err
	}
	limit := DefaultSearchLimit
	if p.Limit != nil {
		limit = *p.Limit
		if limit < 1 || limit > MaxSearchLimit {
			return nil, invalid("limit", "invalid_value",
				"Invalid 'limit': expected an integer between 1 and %d, but got %d.", MaxSearchLimit, limit)
		}
	}
	hits, err := s.search(ctx, pr, o, ns, p.Query, p.Mode, limit)
	if err != nil {
		return nil, err
	}
	res := &Results{Object: "list", Data: make([]Hit, len(hits))}
	for i := range hits {
		res.Data[i] = Hit{Memory: recordOf(&hits[i].Memory), Score: hits[i].Score}
	}
	return res, nil
}

// Erase deletes everything kept for one subject of a tenant — responses,
// conversations, items, stream events, memories and their vectors — and
// returns the receipt.
func (s *Service) Erase(ctx context.Context, tenant, subject string) (*Receipt, error) {
	if subject == "" {
		return nil, invalid("user", "missing_required_parameter", "Missing required parameter: 'user'.")
	}
	if tenant == "" {
		tenant = identity.DefaultTenant
	}
	e, err := s.Store.EraseSubject(ctx, store.Owner{Tenant: tenant, Subject: subject})
	if err != nil {
		return nil, err
	}
	return &Receipt{Object: "erasure_receipt", Tenant: tenant, Subject: subject, At: s.now().Unix(),
		Deleted: Counts(e)}, nil
}

// Recall returns up to k of the subject's memories in a namespace ("" is
// the default one) that best match the query, for the runtime to put into
// a model's context. k ≤ 0 means DefaultSearchLimit; it is capped at
// MaxSearchLimit. A query with no searchable words recalls nothing.
//
// With an embedding model the query is embedded as p and the ranking is
// Search's hybrid one.
func (s *Service) Recall(ctx context.Context, p *identity.Principal, o store.Owner, namespace, query string, k int) ([]Record, error) {
	return s.RecallMode(ctx, p, o, namespace, query, "", k)
}

// RecallMode is Recall with a search mode (ModeHybrid, ModeText or
// ModeVector), for benchmarks that compare them.
func (s *Service) RecallMode(ctx context.Context, p *identity.Principal, o store.Owner, namespace, query, mode string, k int) ([]Record, error) {
	if k <= 0 {
		k = DefaultSearchLimit
	}
	k = min(k, MaxSearchLimit)
	if namespace == "" {
		namespace = DefaultNamespace
	}
	hits, err := s.search(ctx, p, o, namespace, query, mode, k)
	if err != nil {
		return nil, fmt.Errorf("memory: recall: %w", err)
	}
	out := make([]Record, len(hits))
	for i := range hits {
		out[i] = recordOf(&hits[i].Memory)
	}
	return out, nil
}

// Marker starts and ends the block Format renders, so that a reader of
// the context (the model, or a person reading a transcript) sees which
// text came from memory rather than from the conversation.
const Marker = "[causeway memory]"

// Format renders recalled memories as a block of text for a model's
// context: the marker, one line per memory (newest facts are not
// reordered: the order is the ranking), and the marker again. It returns
// "" for no records.
func Format(records []Record) string {
	if len(records) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString(Marker)
	b.WriteString(" Things remembered from earlier sessions with this user, most relevant first:\n")
	for _, r := range records {
		b.WriteString("- ")
		// One memory, one line: a newline inside a memory could pass for
		// the end of the block.
		b.WriteString(strings.Join(strings.Fields(r.Text), " "))
		b.WriteString(" (")
		b.WriteString(r.ID)
		b.WriteString(")\n")
	}
	b.WriteString(Marker)
	b.WriteString(" end\n")
	return b.String()
}

// embeddingModel is the embedding model in force ("" for none).
func (s *Service) embeddingModel() string {
	if s.Model != nil {
		return s.Model()
	}
	return s.EmbeddingModel
}
