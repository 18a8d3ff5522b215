package main

import (
	"strings"
	"testing"
)

func TestDetectConfig(t *testing.T) {
	env := map[string]string{
		"OPENAI_API_KEY":           "sk-test",
		"ANTHROPIC_API_KEY":        "sk-ant-test",
		"GEMINI_API_KEY":           "g-test",
		"AZURE_OPENAI_ENDPOINT":    "https://example-resource.openai.azure.com",
		"AZURE_OPENAI_API_KEY":     "az-test",
		"AZURE_OPENAI_DEPLOYMENTS": "gpt-4o-prod, mini",
		"AWS_REGION":               "eu-west-1",
		"AWS_ACCESS_KEY_ID":        "AKIDTEST",
		"OLLAMA_HOST":              "127.0.0.1:1", // nothing listens: no Ollama
	}
	cfg, err := detectConfig(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, p := range cfg.Providers {
		types = append(types, p.Type)
		if strings.Contains(p.APIKey.Reveal(), "${") {
			t.Errorf("provider %s: api key not substituted", p.Name)
		}
	}
	if got := strings.Join(types, ","); got != "openai,anthropic,gemini,azure,bedrock" {
		t.Errorf("provider types = %s", got)
	}
	for _, alias := range []string{"gpt-4.1-mini", "claude-sonnet-4-5", "gemini-2.5-flash", "azure/gpt-4o-prod", "azure/mini", "bedrock/claude-sonnet-4-5"} {
		if _, ok := cfg.Alias(alias); !ok {
			t.Errorf("alias %s missing", alias)
		}
	}
	if m, _ := cfg.Alias("bedrock/claude-sonnet-4-5"); !strings.HasPrefix(m.Targets[0].Model, "eu.anthropic.") {
		t.Errorf("bedrock model %s, want the eu inference profile", m.Targets[0].Model)
	}
	if _, err := detectConfig(func(string) (string, bool) { return "", false }); err == nil {
		t.Error("no provider in the environment: want an error pointing at demo")
	}
}
