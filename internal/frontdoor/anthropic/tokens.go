package anthropic

import (
	"github.com/causeway-ai/causeway/internal/llm"
	"github.com/causeway-ai/causeway/internal/tokens"
)

// CountTokens estimates the input tokens of req offline; see tokens.Count
// for what the number means.
func CountTokens(req *llm.Request) (int64, error) { return tokens.Count(req) }
