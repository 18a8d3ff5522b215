package gateway

import "context"

type abortKey struct{}

// WithAbortOnCancel returns ctx marked so that cancelling it stops its
// upstream calls at once instead of letting them drain (see
// upstreamContext): for work whose cancellation is a deliberate stop,
// such as a cancelled background response, rather than a client gone.
// Usage is metered with what the calls got.
func WithAbortOnCancel(ctx context.Context) context.Context {
	return context.WithValue(ctx, abortKey{}, true)
}

func abortOnCancel(ctx context.Context) bool {
	v, _ := ctx.Value(abortKey{}).(bool)
	return v
}
