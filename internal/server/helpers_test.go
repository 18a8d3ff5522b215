package server_test

import "github.com/causeway-ai/causeway/internal/llm"

func llmUsage(in, out int64) llm.Usage { return llm.Usage{InputTokens: in, OutputTokens: out} }
