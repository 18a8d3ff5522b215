package server_test

import (
	"github.com/causeway-ai/causeway/internal/config"
	"github.com/causeway-ai/causeway/internal/llm"
	"github.com/causeway-ai/causeway/internal/server/servertest"
)

func llmUsage(in, out int64) llm.Usage { return llm.Usage{InputTokens: in, OutputTokens: out} }

func configParse(yml string) (*config.Config, error) {
	return config.Parse([]byte(yml), func(k string) (string, bool) {
		if k == "CAUSEWAY_ADMIN_KEY" {
			return servertest.AdminKey, true
		}
		return "", false
	})
}
