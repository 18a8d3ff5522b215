package server

import (
	"errors"

	"github.com/causeway-ai/causeway/internal/config"
	"github.com/causeway-ai/causeway/internal/gateway"
	bedrockprov "github.com/causeway-ai/causeway/internal/provider/bedrock"
)

var _ gateway.Provider = (*bedrockprov.Provider)(nil)

func init() {
	providerBuilders[bedrockprov.Kind] = func(p config.Provider) (gateway.Provider, error) {
		if p.Region == "" {
			return nil, errors.New("a bedrock provider needs a region")
		}
		if p.AccessKeyID.Reveal() != "" && p.SecretAccessKey.Reveal() == "" {
			return nil, errors.New("access_key_id is set without secret_access_key")
		}
		return bedrockprov.New(bedrockprov.Config{
			Name: p.Name, Region: p.Region, BaseURL: p.BaseURL, Headers: p.Headers,
			AccessKeyID: p.AccessKeyID.Reveal(), SecretAccessKey: p.SecretAccessKey.Reveal(), SessionToken: p.SessionToken.Reveal(),
			ConnectTimeout: p.Timeouts.Connect.Std(), FirstTokenTimeout: p.Timeouts.FirstToken.Std(),
			IdleTimeout: p.Timeouts.Idle.Std(), TotalTimeout: p.Timeouts.Total.Std(),
			MaxIdleConns: p.MaxIdleConns,
		}), nil
	}
}
