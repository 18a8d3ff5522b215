package server

import (
	"github.com/causeway-ai/causeway/internal/config"
	"github.com/causeway-ai/causeway/internal/gateway"
	antprov "github.com/causeway-ai/causeway/internal/provider/anthropic"
)

var _ gateway.Provider = (*antprov.Provider)(nil)

func init() {
	providerBuilders[antprov.Kind] = func(p config.Provider) (gateway.Provider, error) {
		return antprov.New(antprov.Config{
			Name: p.Name, BaseURL: p.BaseURL, APIKey: p.APIKey.Reveal(), APIVersion: p.APIVersion, Headers: p.Headers,
			ConnectTimeout: p.Timeouts.Connect.Std(), FirstTokenTimeout: p.Timeouts.FirstToken.Std(),
			IdleTimeout: p.Timeouts.Idle.Std(), TotalTimeout: p.Timeouts.Total.Std(),
			MaxIdleConns: p.MaxIdleConns,
		}), nil
	}
}
