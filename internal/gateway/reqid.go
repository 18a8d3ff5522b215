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
