package gateway

import (
	"context"
	"strconv"

	"github.com/causeway-ai/causeway/internal/billing"
	"github.com/causeway-ai/causeway/internal/identity"
)

type ctxKey struct{}

// RequestInfo is what the server's middleware and the doors learn about a
// request as it goes, for logs and metrics.
type RequestInfo struct {
	ID     string
	Model  string
	Stream bool
	// PreferRegions are the regions the client asked to be served from
	// first (x-causeway-region, comma-separated).
	PreferRegions []string
	// Session keys sticky routing (x-causeway-session).
	Session string
	// NoCache bypasses the response cache (Cache-Control: no-cache or
	// x-causeway-cache: bypass).
	NoCache bool
	// ResponseID and ConversationID are the response (and its
	// conversation) the request's model calls are made for: every usage
	// record of the request carries them.
	ResponseID     string
	ConversationID string
}

// WithUsageTie returns ctx whose usage records are tied to a response
// and its conversation (empty when it has none). It copies the request
// info rather than changing it, so a run that outlives its HTTP request
// (a background response) shares nothing with the request's logging.
func WithUsageTie(ctx context.Context, responseID, conversationID string) context.Context {
	info := RequestInfo{}
	if cur := Info(ctx); cur != nil {
		info = *cur
	}
	if info.ID == "" {
		info.ID = NewRequestID()
	}
	info.ResponseID, info.ConversationID = responseID, conversationID
	return WithRequestInfo(ctx, &info)
}

// usageTie is what a usage record inherits from its request.
type usageTie struct{ response, conversation string }

func tieOf(ctx context.Context) usageTie {
	if info := Info(ctx); info != nil {
		return usageTie{info.ResponseID, info.ConversationID}
	}
	return usageTie{}
}

func (t usageTie) apply(rec *billing.Record) {
	rec.ResponseID, rec.ConversationID = t.response, t.conversation
}

// WithRequestInfo returns ctx carrying info.
func WithRequestInfo(ctx context.Context, info *RequestInfo) context.Context {
	return context.WithValue(ctx, ctxKey{}, info)
}

// Info returns the request's info, or nil.
func Info(ctx context.Context) *RequestInfo {
	info, _ := ctx.Value(ctxKey{}).(*RequestInfo)
	return info
}

// SetModel records the requested model for logs and metrics.
func SetModel(ctx context.Context, model string, stream bool) {
	if info := Info(ctx); info != nil {
		info.Model, info.Stream = model, stream
	}
}

// RequestID returns the request id in ctx, or a new one.
func RequestID(ctx context.Context) string {
	if info := Info(ctx); info != nil && info.ID != "" {
		return info.ID
	}
	return NewRequestID()
}

// NewRequestID returns a fresh request id.
func NewRequestID() string { return identity.NewID("req_") }

func formatUSD(nano int64) string {
	return strconv.FormatFloat(billing.USD(nano), 'f', -1, 64)
}
