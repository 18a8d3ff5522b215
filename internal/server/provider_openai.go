package server

import (
	"net/url"
	"strings"

	"github.com/causeway-ai/causeway/internal/config"
	"github.com/causeway-ai/causeway/internal/gateway"
	oaiprov "github.com/causeway-ai/causeway/internal/provider/openai"
)

var _ gateway.Provider = (*oaiprov.Provider)(nil)

func init() {
	providerBuilders[oaiprov.Kind] = func(p config.Provider) (gateway.Provider, error) {
		// OpenAI itself wants max_completion_tokens (its reasoning models
		// refuse max_tokens); the compatible servers (Ollama, llama.cpp,
		// older vLLM) read only max_tokens.
		host := ""
		if u, err := url.Parse(p.BaseURL); err == nil {
			host = u.Hostname()
		}
		legacy := host != "api.openai.com" && !strings.HasSuffix(host, ".openai.com")
		return oaiprov.New(oaiprov.Config{
			Dialect: oaiprov.Dialect{LegacyMaxTokens: legacy},
			Name:    p.Name, BaseURL: p.BaseURL, APIKey: p.APIKey.Reveal(), Headers: p.Headers,
			ConnectTimeout: p.Timeouts.Connect.Std(), FirstTokenTimeout: p.Timeouts.FirstToken.Std(),
			IdleTimeout: p.Timeouts.Idle.Std(), TotalTimeout: p.Timeouts.Total.Std(),
			MaxIdleConns: p.MaxIdleConns,
		}), nil
	}
}
