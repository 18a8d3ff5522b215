package server

import (
	"github.com/causeway-ai/causeway/internal/config"
	"github.com/causeway-ai/causeway/internal/gateway"
	oaiprov "github.com/causeway-ai/causeway/internal/provider/openai"
)

var _ gateway.Provider = (*oaiprov.Provider)(nil)

func init() {
	providerBuilders[oaiprov.Kind] = func(p config.Provider) (gateway.Provider, error) {
		return oaiprov.New(oaiprov.Config{
			Name: p.Name, BaseURL: p.BaseURL, APIKey: p.APIKey.Reveal(), Headers: p.Headers,
			ConnectTimeout: p.Timeouts.Connect.Std(), FirstTokenTimeout: p.Timeouts.FirstToken.Std(),
			IdleTimeout: p.Timeouts.Idle.Std(), TotalTimeout: p.Timeouts.Total.Std(),
			MaxIdleConns: p.MaxIdleConns,
		}), nil
	}
}
