package runtime

import (
	"context"

	"github.com/causeway-ai/causeway/internal/identity"
	"github.com/causeway-ai/causeway/internal/tokens"
)

// InputTokens estimates the input tokens of the first model call the
// create request would make: the same canonical request Create prepares
// (the previous_response_id chain or the conversation, the input,
// instructions and tools), counted offline with tokens.Count. Nothing is
// sent upstream and nothing is stored: a context that would be compacted
// is counted as it is, and memories a create would recall are not
// counted.
func (rt *Runtime) InputTokens(ctx context.Context, p *identity.Principal, cp *CreateParams) (int64, error) {
	pr, err := rt.prepare(ctx, p, cp, true)
	if err != nil {
		return 0, err
	}
	return tokens.Count(pr.req)
}
