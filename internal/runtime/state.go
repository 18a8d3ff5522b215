package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/causeway-ai/causeway/internal/identity"
	"github.com/causeway-ai/causeway/internal/memory"
	wire "github.com/causeway-ai/causeway/internal/schema/responses"
	"github.com/causeway-ai/causeway/internal/store"
)

func responseNotFound(id string) *string { return str("Response with id '" + id + "' not found.") }

// GetResponse returns the principal's stored response object.
func (rt *Runtime) GetResponse(ctx context.Context, p *identity.Principal, id string) (json.RawMessage, error) {
	r, err := rt.loadResponse(ctx, OwnerOf(p), id)
	if err != nil {
		return nil, err
	}
	return r.Body, nil
}

// DeleteResponse deletes the principal's response and its items.
func (rt *Runtime) DeleteResponse(ctx context.Context, p *identity.Principal, id string) (*wire.Deleted, error) {
	// A foreground response still running is not deleted under its run
	// (a background one is: its run notices and stops).
	if r, err := rt.loadResponse(ctx, OwnerOf(p), id); err == nil && !r.Background && !terminal(r.Status) {
		return nil, invalid("", "Response with id '"+id+"' is still in progress; delete it once it has ended.")
	}
	if err := rt.Store.DeleteResponse(ctx, OwnerOf(p), id); err != nil {
		return nil, mapStoreErr(err, "", *responseNotFound(id))
	}
	return &wire.Deleted{ID: id, Object: "response.deleted", Deleted: true}, nil
}

// Page is a cursor page request as the API takes it.
type Page struct {
	After string
	Limit int
	// Asc lists oldest first; the API's default is newest first.
	Asc bool
}

func (pg Page) store() store.Page {
	return store.Page{After: pg.After, Limit: pg.Limit, Desc: !pg.Asc}
}

func list(items []store.Item, more bool) *wire.List {
	l := &wire.List{Object: "list", Data: make([]json.RawMessage, len(items)), HasMore: more}
	for i, it := range items {
		l.Data[i] = it.Body
	}
	if len(items) > 0 {
		l.FirstID, l.LastID = str(items[0].ID), str(items[len(items)-1].ID)
	}
	return l
}

// InputItems lists a page of the principal's response's input items.
func (rt *Runtime) InputItems(ctx context.Context, p *identity.Principal, id string, pg Page) (*wire.List, error) {
	items, more, err := rt.Store.ResponseItems(ctx, OwnerOf(p), id, store.KindInput, pg.store())
	if errors.Is(err, store.ErrCursor) {
		return nil, listErr(err, pg)
	}
	if err != nil {
		return nil, mapStoreErr(err, "", *responseNotFound(id))
	}
	return list(items, more), nil
}

func conversationNotFound(id string) string { return "Conversation with id '" + id + "' not found." }

func conversation(c *store.Conversation) *wire.Conversation {
	out := &wire.Conversation{ID: c.ID, Object: "conversation", CreatedAt: c.CreatedAt.Unix(), Metadata: map[string]string{}}
	_ = json.Unmarshal(c.Metadata, &out.Metadata)
	if out.Metadata == nil {
		out.Metadata = map[string]string{}
	}
	return out
}

// normalizeAll gives items ids and their stored shape, rejecting the
// types a conversation cannot hold yet.
func normalizeAll(items []wire.Item) ([]wire.Item, []store.Item, error) {
	out := make([]wire.Item, len(items))
	for i, it := range items {
		if it.Type == "item_reference" {
			return nil, nil, invalid("items", "Item references are not supported yet in conversation items by this gateway.")
		}
		out[i] = Normalize(it)
	}
	st, err := encodeItems(out)
	return out, st, err
}

// CreateConversation stores a new conversation with its first items.
func (rt *Runtime) CreateConversation(ctx context.Context, p *identity.Principal, items []wire.Item, metadata map[string]string) (*wire.Conversation, error) {
	_, st, err := normalizeAll(items)
	if err != nil {
		return nil, err
	}
	meta, _ := json.Marshal(metadata)
	if metadata == nil {
		meta = []byte("{}")
	}
	c := &store.Conversation{ID: identity.NewID("conv_"), Metadata: meta}
	if err := rt.Store.CreateConversation(ctx, OwnerOf(p), c, st); err != nil {
		return nil, err
	}
	return conversation(c), nil
}

// GetConversation returns the principal's conversation.
func (rt *Runtime) GetConversation(ctx context.Context, p *identity.Principal, id string) (*wire.Conversation, error) {
	c, err := rt.Store.GetConversation(ctx, OwnerOf(p), id)
	if err != nil {
		return nil, mapStoreErr(err, "", conversationNotFound(id))
	}
	return conversation(c), nil
}

// UpdateConversation replaces the conversation's metadata.
func (rt *Runtime) UpdateConversation(ctx context.Context, p *identity.Principal, id string, metadata map[string]string) (*wire.Conversation, error) {
	meta, _ := json.Marshal(metadata)
	if metadata == nil {
		meta = []byte("{}")
	}
	c, err := rt.Store.UpdateConversation(ctx, OwnerOf(p), id, meta)
	if err != nil {
		return nil, mapStoreErr(err, "", conversationNotFound(id))
	}
	return conversation(c), nil
}

// ConversationDeleted is OpenAI's answer to deleting a conversation,
// with Causeway's receipt of everything that went with it.
type ConversationDeleted struct {
	wire.Deleted
	Receipt DeletionReceipt `json:"receipt"`
}

// DeletionReceipt counts what deleting a conversation deleted, in the
// shape of the erasure receipt's counts.
type DeletionReceipt struct {
	Object  string              `json:"object"`
	Deleted memory.ErasedCounts `json:"deleted"`
	At      int64               `json:"at"`
}

// DeleteConversation deletes the conversation, its items, the responses
// made in it (with their items and stored events) and the memories linked
// to it (with their vectors), and says how many of each.
func (rt *Runtime) DeleteConversation(ctx context.Context, p *identity.Principal, id string) (*ConversationDeleted, error) {
	e, err := rt.Store.DeleteConversation(ctx, OwnerOf(p), id)
	if err != nil {
		return nil, mapStoreErr(err, "", conversationNotFound(id))
	}
	return &ConversationDeleted{Deleted: wire.Deleted{ID: id, Object: "conversation.deleted", Deleted: true},
		Receipt: DeletionReceipt{Object: "conversation.deletion_receipt", Deleted: memory.Counts(e), At: time.Now().Unix()}}, nil
}

// AddItems appends items to the conversation and lists them.
func (rt *Runtime) AddItems(ctx context.Context, p *identity.Principal, id string, items []wire.Item) (*wire.List, error) {
	_, st, err := normalizeAll(items)
	if err != nil {
		return nil, err
	}
	if err := rt.Store.AddConversationItems(ctx, OwnerOf(p), id, st); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return nil, invalid("items", "An item with one of these ids is already in the conversation, or given twice.").WithCode("duplicate_item_id")
		}
		return nil, mapStoreErr(err, "", conversationNotFound(id))
	}
	return list(st, false), nil
}

// Items lists a page of the conversation's items.
func (rt *Runtime) Items(ctx context.Context, p *identity.Principal, id string, pg Page) (*wire.List, error) {
	items, more, err := rt.Store.ConversationItems(ctx, OwnerOf(p), id, pg.store())
	if errors.Is(err, store.ErrCursor) {
		return nil, listErr(err, pg)
	}
	if err != nil {
		return nil, mapStoreErr(err, "", conversationNotFound(id))
	}
	return list(items, more), nil
}

// Item returns one item of the conversation.
func (rt *Runtime) Item(ctx context.Context, p *identity.Principal, id, itemID string) (json.RawMessage, error) {
	o := OwnerOf(p)
	if _, err := rt.Store.GetConversation(ctx, o, id); err != nil {
		return nil, mapStoreErr(err, "", conversationNotFound(id))
	}
	it, err := rt.Store.ConversationItem(ctx, o, id, itemID)
	if err != nil {
		return nil, mapStoreErr(err, "", "Item with id '"+itemID+"' not found.")
	}
	return it.Body, nil
}

// DeleteItem deletes one item of the conversation and returns the
// conversation.
func (rt *Runtime) DeleteItem(ctx context.Context, p *identity.Principal, id, itemID string) (*wire.Conversation, error) {
	o := OwnerOf(p)
	c, err := rt.Store.GetConversation(ctx, o, id)
	if err != nil {
		return nil, mapStoreErr(err, "", conversationNotFound(id))
	}
	if err := rt.Store.DeleteConversationItem(ctx, o, id, itemID); err != nil {
		return nil, mapStoreErr(err, "", "Item with id '"+itemID+"' not found.")
	}
	return conversation(c), nil
}

// ListResponses lists a page of the principal's responses, newest first
// unless pg.Asc (Causeway's extension: OpenAI has no such list).
func (rt *Runtime) ListResponses(ctx context.Context, p *identity.Principal, pg Page) (*wire.List, error) {
	rs, more, err := rt.Store.ListResponses(ctx, OwnerOf(p), pg.store())
	if err != nil {
		return nil, listErr(err, pg)
	}
	l := &wire.List{Object: "list", Data: make([]json.RawMessage, len(rs)), HasMore: more}
	for i, r := range rs {
		l.Data[i] = r.Body
	}
	if len(rs) > 0 {
		l.FirstID, l.LastID = str(rs[0].ID), str(rs[len(rs)-1].ID)
	}
	return l, nil
}

// ListConversations lists a page of the principal's conversations, as
// ListResponses.
func (rt *Runtime) ListConversations(ctx context.Context, p *identity.Principal, pg Page) (*wire.List, error) {
	cs, more, err := rt.Store.ListConversations(ctx, OwnerOf(p), pg.store())
	if err != nil {
		return nil, listErr(err, pg)
	}
	l := &wire.List{Object: "list", Data: make([]json.RawMessage, len(cs)), HasMore: more}
	for i := range cs {
		if l.Data[i], err = json.Marshal(conversation(&cs[i])); err != nil {
			return nil, err
		}
	}
	if len(cs) > 0 {
		l.FirstID, l.LastID = str(cs[0].ID), str(cs[len(cs)-1].ID)
	}
	return l, nil
}

// listErr maps a list's unknown after cursor to a 400.
func listErr(err error, pg Page) error {
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrCursor) {
		return invalid("after", "Invalid 'after': no object with id '"+pg.After+"' found.").WithCode("invalid_value")
	}
	return err
}
