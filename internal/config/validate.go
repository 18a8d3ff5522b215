package config

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"net"
	"net/url"
	"path"
	"slices"
	"strings"
)

// maxPriceUSD bounds a configured price per million tokens; anything
// above it is a typo (the dearest list price known is a few hundred).
const maxPriceUSD = 1_000_000

// Validate checks the configuration after defaults are applied and
// returns every problem found, joined, each prefixed by the path of the
// field at fault (such as "providers[1].base_url").
func (c *Config) Validate() error {
	var v validator

	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		v.addf("listen", "%q is not a host:port address such as \"127.0.0.1:8080\" or \":8080\"", c.Listen)
	}
	if c.Store == "" {
		v.addf("store", "must not be empty")
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		v.addf("log.level", "%q is not one of debug, info, warn, error", c.Log.Level)
	}
	if c.Limits.MaxBodyBytes <= 0 {
		v.addf("limits.max_body_bytes", "must be positive, got %d", c.Limits.MaxBodyBytes)
	}
	v.positive("metering.flush_interval", c.Metering.FlushInterval)
	if c.Metering.BatchSize <= 0 {
		v.addf("metering.batch_size", "must be positive, got %d", c.Metering.BatchSize)
	}
	v.positive("metering.drain_timeout", c.Metering.DrainTimeout)
	v.positive("metering.shutdown_timeout", c.Metering.ShutdownTimeout)
	if c.Tools.MaxResponseCostUSD < 0 || math.IsNaN(c.Tools.MaxResponseCostUSD) {
		v.addf("tools.max_response_cost_usd", "must be 0 (no cap) or positive")
	}
	for i, pat := range c.Tools.RequireApproval {
		if _, err := path.Match(pat, ""); err != nil || pat == "" {
			v.addf(fmt.Sprintf("tools.require_approval[%d]", i), "%q is not a tool name or pattern", pat)
		}
	}

	providers := make(map[string]int, len(c.Providers))
	for i, p := range c.Providers {
		path := fmt.Sprintf("providers[%d]", i)
		switch {
		case p.Name == "":
			v.addf(path+".name", "is required")
		case !validName(p.Name):
			v.addf(path+".name", "%q may hold only lower-case letters, digits, _ and -", p.Name)
		default:
			if j, dup := providers[p.Name]; dup {
				v.addf(path+".name", "%q is already the name of providers[%d]", p.Name, j)
			} else {
				providers[p.Name] = i
			}
		}
		if p.Type == "" {
			v.addf(path+".type", "is required: one of %s", strings.Join(ProviderTypes, ", "))
		} else if !slices.Contains(ProviderTypes, p.Type) {
			v.addf(path+".type", "%q is not a known provider type: one of %s", p.Type, strings.Join(ProviderTypes, ", "))
		}
		if p.BaseURL == "" {
			if !slices.Contains(baseURLOptional, p.Type) {
				v.addf(path+".base_url", "is required")
			}
		} else if u, err := url.Parse(p.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			v.addf(path+".base_url", "%q is not an http or https URL", p.BaseURL)
		} else if u.RawQuery != "" || u.Fragment != "" {
			v.addf(path+".base_url", "%q must not have a query or fragment", p.BaseURL)
		}
		for _, name := range slices.Sorted(maps.Keys(p.Headers)) {
			if !validHeaderName(name) {
				v.addf(path+".headers", "%q is not a valid HTTP header name", name)
			} else if strings.ContainsAny(p.Headers[name], "\r\n\x00") {
				v.addf(path+".headers."+name, "value must not contain line breaks or NUL")
			}
		}
		v.positive(path+".timeouts.connect", p.Timeouts.Connect)
		v.positive(path+".timeouts.first_token", p.Timeouts.FirstToken)
		v.positive(path+".timeouts.idle", p.Timeouts.Idle)
		v.positive(path+".timeouts.total", p.Timeouts.Total)
		switch p.Type {
		case "bedrock":
			if p.Region == "" {
				v.addf(path+".region", "is required for bedrock, e.g. us-east-1")
			}
			if (p.AccessKeyID == "") != (p.SecretAccessKey == "") {
				v.addf(path+".access_key_id", "access_key_id and secret_access_key go together")
			}
		case "azure":
			if p.Auth != "" && p.Auth != "api-key" && p.Auth != "entra" {
				v.addf(path+".auth", "%q is not one of api-key, entra", p.Auth)
			}
			sp := p.TenantID != "" || p.ClientID != "" || p.ClientSecret != "" || p.TokenURL != ""
			switch {
			case sp && p.Auth != "entra":
				v.addf(path+".client_id", "tenant_id, client_id, client_secret and token_url are for auth: entra")
			case sp && (p.ClientID == "" || p.ClientSecret == "" || (p.TenantID == "" && p.TokenURL == "")):
				v.addf(path+".client_id", "an Entra service principal needs tenant_id (or token_url), client_id and client_secret")
			case sp && p.APIKey != "":
				v.addf(path+".api_key", "not used with an Entra service principal: remove it")
			}
			if p.TokenURL != "" {
				if u, err := url.Parse(p.TokenURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
					v.addf(path+".token_url", "%q is not an http or https URL", p.TokenURL)
				}
			}
		case "gemini":
			if p.Auth != "" && p.Auth != "api-key" && p.Auth != "vertex" {
				v.addf(path+".auth", "%q is not one of api-key, vertex", p.Auth)
			}
			if p.Auth == "vertex" && (p.Project == "" || p.Region == "") {
				v.addf(path+".project", "project and region are required for vertex")
			}
		}
		if p.MaxIdleConns <= 0 {
			v.addf(path+".max_idle_conns", "must be positive, got %d", p.MaxIdleConns)
		}
	}

	c.Compaction.validate(c, &v)

	aliases := make(map[string]int, len(c.Models))
	for i, m := range c.Models {
		path := fmt.Sprintf("models[%d]", i)
		if m.Alias == "" {
			v.addf(path+".alias", "is required")
		} else if j, dup := aliases[m.Alias]; dup {
			v.addf(path+".alias", "%q is already the alias of models[%d]", m.Alias, j)
		} else {
			aliases[m.Alias] = i
		}
		if len(m.Targets) == 0 {
			v.addf(path+".targets", "needs at least one target")
		}
		switch m.Strategy {
		case "", "priority", "weighted", "round_robin", "least_latency", "lowest_cost":
		default:
			v.addf(path+".strategy", "%q is not one of priority, weighted, round_robin, least_latency, lowest_cost", m.Strategy)
		}
		for _, f := range m.FallbackOn {
			if !slices.Contains(FallbackKinds, f) {
				v.addf(path+".fallback_on", "%q is not one of %s", f, strings.Join(FallbackKinds, ", "))
			}
		}
		for _, f := range m.Fallbacks {
			if _, ok := c.Alias(f); !ok || f == m.Alias {
				v.addf(path+".fallbacks", "%q is not the alias of another model", f)
			}
		}
		if m.Retry.MaxAttempts < 0 || m.Retry.MaxAttempts > 10 {
			v.addf(path+".retry.max_attempts", "must be between 1 and 10, got %d", m.Retry.MaxAttempts)
		}
		if p := m.Health.MaxEjectedPercent; p < 0 || p > 100 {
			v.addf(path+".health.max_ejected_percent", "must be between 0 and 100, got %d", p)
		}
		for j, t := range m.Targets {
			tpath := fmt.Sprintf("%s.targets[%d]", path, j)
			if t.Provider == "" {
				v.addf(tpath+".provider", "is required")
			} else if _, ok := c.Provider(t.Provider); !ok {
				v.addf(tpath+".provider", "%q is not the name of a provider", t.Provider)
			}
			if t.Model == "" {
				v.addf(tpath+".model", "is required: the upstream model name")
			}
			if t.Price != nil {
				v.price(tpath+".price", *t.Price)
			}
			if t.Weight < 0 {
				v.addf(tpath+".weight", "must not be negative, got %d", t.Weight)
			}
			if t.RPM < 0 {
				v.addf(tpath+".rpm", "must not be negative, got %d", t.RPM)
			}
		}
	}

	c.Memory.validate(&v, aliases)

	teams := map[string]bool{}
	for i, t := range c.Teams {
		if t.Name == "" {
			v.addf(fmt.Sprintf("teams[%d].name", i), "is required")
		} else if teams[t.Name] {
			v.addf(fmt.Sprintf("teams[%d].name", i), "%q is listed twice", t.Name)
		}
		teams[t.Name] = true
	}

	for _, name := range slices.Sorted(maps.Keys(c.Prices)) {
		if name == "" {
			v.addf("prices", "a model name must not be empty")
			continue
		}
		v.price(fmt.Sprintf("prices[%q]", name), c.Prices[name])
	}
	return errors.Join(v.errs...)
}

type validator struct{ errs []error }

func (v *validator) addf(path, format string, args ...any) {
	v.errs = append(v.errs, fmt.Errorf("%s: %s", path, fmt.Sprintf(format, args...)))
}

func (v *validator) positive(path string, d Duration) {
	if d <= 0 {
		v.addf(path, "must be a positive duration, got %s", d)
	}
}

func (v *validator) price(path string, p PriceUSD) {
	for _, f := range []struct {
		key string
		val float64
	}{
		{"input_per_mtok", p.Input},
		{"output_per_mtok", p.Output},
		{"cached_input_per_mtok", p.CachedInput},
		{"cache_write_per_mtok", p.CacheWrite},
	} {
		if math.IsNaN(f.val) || f.val < 0 || f.val > maxPriceUSD {
			v.addf(path+"."+f.key, "must be a number of US dollars from 0 to %d, got %v", maxPriceUSD, f.val)
		}
	}
}

func validName(s string) bool {
	for i := range len(s) {
		c := s[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return s != ""
}

// validHeaderName reports whether s is an RFC 9110 token.
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := range len(s) {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}
