package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/goccy/go-yaml"

	"github.com/causeway-ai/causeway/internal/billing"
)

// env returns a getenv over a fixed map.
func env(kv ...string) func(string) (string, bool) {
	m := make(map[string]string, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

const (
	testAdminKey  = "adm-Secret-0123456789"
	testOpenAIKey = "sk-live-Secret-9876543210"
)

func TestLoadExample(t *testing.T) {
	t.Setenv("TEST_ADMIN_KEY", testAdminKey)
	t.Setenv("OPENAI_API_KEY", testOpenAIKey)
	t.Setenv("CAUSEWAY_SIM_URL", "http://sim.test:1234")
	os.Unsetenv("CAUSEWAY_LISTEN")

	c, err := Load(filepath.Join("testdata", "causeway.yaml"))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	check := func(what string, got, want any) {
		t.Helper()
		if got != want {
			t.Errorf("%s = %v, want %v", what, got, want)
		}
	}
	check("listen", c.Listen, "127.0.0.1:9090")
	check("store", c.Store, "./data/test.db")
	check("admin_key", c.AdminKey.Reveal(), testAdminKey)
	check("log.level", c.Log.Level, "debug")
	check("log.requests", c.Log.Requests, false)
	check("limits.max_body_bytes", c.Limits.MaxBodyBytes, int64(1<<20))
	check("metering.flush_interval", c.Metering.FlushInterval.Std(), 100*time.Millisecond)
	check("metering.batch_size", c.Metering.BatchSize, 64)
	check("metering.drain_timeout", c.Metering.DrainTimeout.Std(), 15*time.Second)
	check("metering.shutdown_timeout", c.Metering.ShutdownTimeout.Std(), time.Minute)

	if len(c.Providers) != 2 {
		t.Fatalf("providers = %d, want 2", len(c.Providers))
	}
	oa := c.Providers[0]
	check("openai.api_key", oa.APIKey.Reveal(), testOpenAIKey)
	check("openai.headers", oa.Headers["OpenAI-Organization"], "org-test")
	check("openai.timeouts.connect", oa.Timeouts.Connect.Std(), 2*time.Second)
	check("openai.timeouts.first_token", oa.Timeouts.FirstToken.Std(), 30*time.Second)
	check("openai.timeouts.idle (default)", oa.Timeouts.Idle, DefaultIdleTimeout)
	check("openai.timeouts.total (default)", oa.Timeouts.Total.Std(), 10*time.Minute)
	check("openai.max_idle_conns (default)", oa.MaxIdleConns, 256)
	sim := c.Providers[1]
	check("sim.base_url", sim.BaseURL, "http://sim.test:1234/v1")
	check("sim.max_idle_conns", sim.MaxIdleConns, 16)
	check("sim.timeouts.connect (default)", sim.Timeouts.Connect.Std(), 5*time.Second)

	m, ok := c.Alias("smart")
	if !ok {
		t.Fatal(`Alias("smart") not found`)
	}
	check("smart targets", len(m.Targets), 2)
	check("smart.targets[1].price", *m.Targets[1].Price, PriceUSD{Input: 2.5, Output: 10, CachedInput: 1.25})
	if _, ok := c.Alias("nope"); ok {
		t.Error(`Alias("nope") found`)
	}
	check("prices[llama-local]", c.Prices["llama-local"], PriceUSD{Input: 0.1, Output: 0.2})
	if w := c.Warnings(); len(w) != 0 {
		t.Errorf("Warnings = %q, want none", w)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load(missing) = %v, want ErrNotExist", err)
	}
}

func TestLoadErrorNamesFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(path, []byte("listen: x\nbogus: 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path)
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "line 2:1") {
		t.Errorf("Load(bad) = %v, want the path and line 2:1", err)
	}
}

func TestDefaults(t *testing.T) {
	for _, doc := range []string{"", "# nothing here\n", "---\n", "log:\n", "metering:\n  batch_size: 0\n"} {
		c, err := Parse([]byte(doc), env())
		if err != nil {
			t.Fatalf("Parse(%q): %v", doc, err)
		}
		want := &Config{
			Listen: "127.0.0.1:8080",
			Store:  "./causeway-data/causeway.db",
			Log:    Log{Level: "info", Requests: true},
			Limits: Limits{MaxBodyBytes: 8 << 20},
			Metering: Metering{
				FlushInterval:   Duration(200 * time.Millisecond),
				BatchSize:       256,
				DrainTimeout:    Duration(30 * time.Second),
				ShutdownTimeout: Duration(30 * time.Second),
			},
		}
		if fmt.Sprintf("%+v", c) != fmt.Sprintf("%+v", want) || c.AdminKey != "" {
			t.Errorf("Parse(%q) =\n%+v\nwant\n%+v", doc, c, want)
		}
	}
}

func TestDefaultsFromEnvironment(t *testing.T) {
	c, err := Parse(nil, env("CAUSEWAY_STORE", "postgres://db/causeway", "CAUSEWAY_ADMIN_KEY", "k1"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Store != "postgres://db/causeway" || c.AdminKey.Reveal() != "k1" {
		t.Errorf("store = %q, admin key = %q; want the environment's", c.Store, c.AdminKey.Reveal())
	}
	// The file wins over the environment.
	c, err = Parse([]byte("store: file.db\nadmin_key: k2\n"), env("CAUSEWAY_STORE", "postgres://db/x", "CAUSEWAY_ADMIN_KEY", "k1"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Store != "file.db" || c.AdminKey.Reveal() != "k2" {
		t.Errorf("store = %q, admin key = %q; want the file's", c.Store, c.AdminKey.Reveal())
	}
}

func TestLogRequestsDefault(t *testing.T) {
	tests := []struct {
		doc  string
		want bool
	}{
		{"log:\n  level: warn\n", true},
		{"log: {requests: false}\n", false},
		{"log:\n  requests: true\n", true},
	}
	for _, tt := range tests {
		c, err := Parse([]byte(tt.doc), env())
		if err != nil {
			t.Fatalf("Parse(%q): %v", tt.doc, err)
		}
		if c.Log.Requests != tt.want {
			t.Errorf("Parse(%q): log.requests = %v, want %v", tt.doc, c.Log.Requests, tt.want)
		}
	}
}

func TestExpand(t *testing.T) {
	getenv := env("A", "alpha", "EMPTY", "", "SPACED", "x y", "_U1", "u")
	tests := []struct{ in, want string }{
		{"k: ${A}\n", "k: alpha\n"},
		{"k: ${A}-${A}\n", "k: alpha-alpha\n"},
		{"k: ${_U1}\n", "k: u\n"},
		{"k: ${UNSET:-fallback}\n", "k: fallback\n"},
		{"k: ${EMPTY:-fallback}\n", "k: fallback\n"},
		{"k: ${A:-fallback}\n", "k: alpha\n"},
		{"k: ${UNSET:-}\n", "k: \n"},
		{"k: ${UNSET:-a:b/c}\n", "k: a:b/c\n"},
		{"k: '${EMPTY}'\n", "k: ''\n"},
		{"k: \"${SPACED}\"\n", "k: \"x y\"\n"},
		{"k: $${A}\n", "k: ${A}\n"},
		{"k: a$$b$$$$\n", "k: a$b$$\n"},
		{"k: $$$${A}\n", "k: $${A}\n"},
		{"k: $A $ $\n", "k: $A $ $\n"},
		{"k: cost$\n", "k: cost$\n"},
		{"k: cost$", "k: cost$"},
		{"# ${UNSET} $$\n  # ${UNSET}\nk: v\n", "# ${UNSET} $$\n  # ${UNSET}\nk: v\n"},
		{"no dollars\n", "no dollars\n"},
		{"a: ${A}\r\nb: ${A}", "a: alpha\r\nb: alpha"},
	}
	for _, tt := range tests {
		got, err := expand([]byte(tt.in), getenv)
		if err != nil {
			t.Errorf("expand(%q): %v", tt.in, err)
			continue
		}
		if string(got) != tt.want {
			t.Errorf("expand(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestExpandErrors(t *testing.T) {
	getenv := env("A", "alpha", "MULTI", "one\ntwo")
	tests := []struct {
		in   string
		want []string
	}{
		{"x: 1\ny: 2\nkey: ${MISSING_KEY}\n", []string{"line 3", "MISSING_KEY", "not set"}},
		{"k: ${A\n", []string{"line 1", "unterminated"}},
		{"k: ${}\n", []string{"line 1", "not a valid variable name"}},
		{"k: ${1A}\n", []string{"line 1", `"1A"`}},
		{"k: ${A-B}\n", []string{"line 1", `"A-B"`}},
		{"k: ${A:default}\n", []string{"line 1", `"A:default"`}},
		{"k: ${MULTI}\n", []string{"line 1", "MULTI", "line break"}},
		// Every problem is reported, not just the first.
		{"a: ${ONE}\nb: ${TWO}\n", []string{"line 1", "ONE", "line 2", "TWO"}},
	}
	for _, tt := range tests {
		_, err := expand([]byte(tt.in), getenv)
		if err == nil {
			t.Errorf("expand(%q) = nil error, want one", tt.in)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("expand(%q) = %q, want it to contain %q", tt.in, err, w)
			}
		}
	}
	// Parse reports them too.
	if _, err := Parse([]byte("listen: ${NOPE}\n"), env()); err == nil || !strings.Contains(err.Error(), "NOPE") {
		t.Errorf("Parse with unset variable = %v, want an error naming it", err)
	}
}

func TestDecodeErrorsHavePosition(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want []string
		line int
		col  int
	}{
		{"unknown top-level key", "listen: x\nstore: y\nlisen: z\n", []string{"line 3:1", `unknown field "lisen"`}, 3, 1},
		{"unknown nested key", "providers:\n  - name: a\n    bogus: 1\n", []string{"line 3:5", `unknown field "bogus"`}, 3, 5},
		{"unknown key in timeouts", "providers:\n  - name: a\n    timeouts:\n      conect: 1s\n", []string{"line 4:7", `"conect"`}, 4, 7},
		{"unknown key in price", "prices:\n  m:\n    input: 1\n", []string{"line 3:5", `"input"`}, 3, 5},
		{"wrong type int", "providers:\n  - name: a\n    max_idle_conns: lots\n", []string{"line 3:21", "want an integer, got a string"}, 3, 21},
		{"wrong type bool", "log:\n  requests: maybe\n", []string{"line 2:13", "want a boolean"}, 2, 13},
		{"wrong type list", "providers:\n  name: a\n", []string{"line 2:7", "sequence"}, 2, 7},
		{"wrong type string", "listen: [a, b]\n", []string{"line 1:9", "want a string, got a list"}, 1, 9},
		{"bad duration", "metering:\n  flush_interval: 5\n", []string{"line 2:19", `invalid duration "5"`}, 2, 19},
		{"bad duration text", "metering:\n  drain_timeout: soon\n", []string{"line 2:18", `invalid duration "soon"`}, 2, 18},
		{"duration mapping", "metering:\n  drain_timeout: {a: 1}\n", []string{"line 2:", "want a duration"}, 2, 0},
		{"duplicate key", "listen: a\nlisten: b\n", []string{"line 2:1", "already defined"}, 2, 1},
		{"not a mapping", "- a\n- b\n", []string{"line 1:1"}, 1, 1},
		{"syntax", "listen: \"unclosed\n", []string{"line 1:"}, 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.doc), env())
			if err == nil {
				t.Fatal("Parse = nil error, want one")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Parse error %q, want it to contain %q", err, w)
				}
			}
			pe, ok := errors.AsType[*PositionError](err)
			if !ok {
				t.Fatalf("Parse error %q (%T) is not a *PositionError", err, err)
			}
			if pe.Line != tt.line || (tt.col != 0 && pe.Column != tt.col) {
				t.Errorf("position %d:%d, want %d:%d", pe.Line, pe.Column, tt.line, tt.col)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q quotes the source; it must not (it may hold secrets)", err)
			}
		})
	}
}

func TestDecodeErrorDoesNotQuoteSecrets(t *testing.T) {
	doc := "providers:\n  - name: a\n    api_key: ${KEY}\n    max_idle_conns: many\n"
	_, err := Parse([]byte(doc), env("KEY", testOpenAIKey))
	if err == nil {
		t.Fatal("Parse = nil error, want one")
	}
	if strings.Contains(err.Error(), testOpenAIKey) {
		t.Errorf("error %q reveals the api key", err)
	}
}

func TestSingleDocument(t *testing.T) {
	_, err := Parse([]byte("listen: :1\n---\nlisten: :2\n"), env())
	if err == nil || !strings.Contains(err.Error(), "single YAML document") {
		t.Errorf("Parse(two documents) = %v, want a single-document error", err)
	}
}

func TestDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"250ms", 250 * time.Millisecond},
		{"5s", 5 * time.Second},
		{"1m30s", 90 * time.Second},
		{"\"2h\"", 2 * time.Hour},
		{"!!str 45s", 45 * time.Second},
		{"1.5s", 1500 * time.Millisecond},
		{"0", DefaultDrainTimeout.Std()}, // zero means the default
		{"", DefaultDrainTimeout.Std()},  // null leaves the default
	}
	for _, tt := range tests {
		c, err := Parse([]byte("metering:\n  drain_timeout: "+tt.in+"\n"), env())
		if err != nil {
			t.Errorf("drain_timeout: %s: %v", tt.in, err)
			continue
		}
		if got := c.Metering.DrainTimeout.Std(); got != tt.want {
			t.Errorf("drain_timeout: %s = %v, want %v", tt.in, got, tt.want)
		}
	}

	// The same type decodes directly, outside a Config.
	var s struct {
		D Duration `yaml:"d"`
	}
	if err := yaml.Unmarshal([]byte("d: 750ms\n"), &s); err != nil || s.D.Std() != 750*time.Millisecond {
		t.Errorf("yaml.Unmarshal duration = %v, %v; want 750ms", s.D, err)
	}

	// Text and JSON forms, for other decoders.
	var d Duration
	if err := d.UnmarshalText([]byte("3s")); err != nil || d.Std() != 3*time.Second {
		t.Errorf("UnmarshalText(3s) = %v, %v", d, err)
	}
	if err := d.UnmarshalText([]byte("3")); err == nil {
		t.Error("UnmarshalText(3) = nil error, want missing unit")
	}
	var j struct{ D Duration }
	if err := json.Unmarshal([]byte(`{"D":"1m"}`), &j); err != nil || j.D.Std() != time.Minute {
		t.Errorf("json duration = %v, %v", j.D, err)
	}
	if b, _ := json.Marshal(j); string(b) != `{"D":"1m0s"}` {
		t.Errorf("json.Marshal = %s", b)
	}
	if s := Duration(1500 * time.Millisecond).String(); s != "1.5s" {
		t.Errorf("String = %q, want 1.5s", s)
	}
}

func TestNegativeDuration(t *testing.T) {
	_, err := Parse([]byte("metering:\n  flush_interval: -1s\n"), env())
	if err == nil || !strings.Contains(err.Error(), "metering.flush_interval: must be a positive duration") {
		t.Errorf("negative duration: %v", err)
	}
}

func TestValidate(t *testing.T) {
	const provider = "providers:\n  - name: p\n    type: openai\n    base_url: http://localhost:1\n"
	tests := []struct {
		name string
		doc  string
		want []string // each must appear in the error
	}{
		{"duplicate provider", provider + "  - name: p\n    type: openai\n    base_url: http://h\n",
			[]string{`providers[1].name: "p" is already the name of providers[0]`}},
		{"bad provider name", "providers:\n  - name: My Provider\n    type: openai\n    base_url: http://h\n",
			[]string{`providers[0].name: "My Provider" may hold only`}},
		{"missing provider fields", "providers:\n  - {}\n",
			[]string{"providers[0].name: is required", "providers[0].type: is required", "providers[0].base_url: is required"}},
		{"unknown type", "providers:\n  - name: p\n    type: carrier-pigeon\n    base_url: http://h\n",
			[]string{`providers[0].type: "carrier-pigeon" is not a known provider type: one of openai`}},
		{"bad url scheme", "providers:\n  - name: p\n    type: openai\n    base_url: ftp://h/v1\n",
			[]string{`providers[0].base_url: "ftp://h/v1" is not an http or https URL`}},
		{"url without host", "providers:\n  - name: p\n    type: openai\n    base_url: http:///v1\n",
			[]string{`providers[0].base_url`}},
		{"not a url", "providers:\n  - name: p\n    type: openai\n    base_url: api.openai.com/v1\n",
			[]string{`providers[0].base_url: "api.openai.com/v1" is not an http or https URL`}},
		{"url with query", "providers:\n  - name: p\n    type: openai\n    base_url: http://h/v1?x=1\n",
			[]string{`providers[0].base_url`, "query"}},
		{"bad header", provider + "    headers:\n      \"Bad Header\": x\n      X-Ok: \"a\\r\\nb\"\n",
			[]string{`providers[0].headers: "Bad Header" is not a valid HTTP header name`, "providers[0].headers.X-Ok: value must not contain line breaks"}},
		{"negative timeout", provider + "    timeouts: {idle: -5s}\n    max_idle_conns: -1\n",
			[]string{"providers[0].timeouts.idle: must be a positive duration", "providers[0].max_idle_conns: must be positive"}},
		{"duplicate alias", provider + "models:\n  - alias: a\n    targets: [{provider: p, model: m}]\n  - alias: a\n    targets: [{provider: p, model: m}]\n",
			[]string{`models[1].alias: "a" is already the alias of models[0]`}},
		{"unknown target provider", provider + "models:\n  - alias: a\n    targets:\n      - {provider: p, model: m}\n      - {provider: ghost, model: m}\n",
			[]string{`models[0].targets[1].provider: "ghost" is not the name of a provider`}},
		{"empty model", "models:\n  - {}\n",
			[]string{"models[0].alias: is required", "models[0].targets: needs at least one target"}},
		{"empty target", provider + "models:\n  - alias: a\n    targets: [{}]\n",
			[]string{"models[0].targets[0].provider: is required", "models[0].targets[0].model: is required"}},
		{"bad target price", provider + "models:\n  - alias: a\n    targets: [{provider: p, model: m, price: {input_per_mtok: -1, output_per_mtok: .nan}}]\n",
			[]string{"models[0].targets[0].price.input_per_mtok: must be a number of US dollars", "models[0].targets[0].price.output_per_mtok"}},
		{"bad price", "prices:\n  m: {cache_write_per_mtok: 2e6}\n",
			[]string{`prices["m"].cache_write_per_mtok: must be a number`}},
		{"entra principal without entra", "providers:\n  - {name: az, type: azure, base_url: https://r.openai.azure.com, client_id: app, client_secret: s, tenant_id: t}\n",
			[]string{"providers[0].client_id: tenant_id, client_id, client_secret and token_url are for auth: entra"}},
		{"entra principal incomplete", "providers:\n  - {name: az, type: azure, base_url: https://r.openai.azure.com, auth: entra, client_id: app, token_url: ftp://x}\n",
			[]string{"providers[0].client_id: an Entra service principal needs", `providers[0].token_url: "ftp://x" is not an http or https URL`}},
		{"entra principal with a key", "providers:\n  - {name: az, type: azure, base_url: https://r.openai.azure.com, auth: entra, client_id: app, client_secret: s, tenant_id: t, api_key: k}\n",
			[]string{"providers[0].api_key: not used with an Entra service principal"}},
		{"bad top level", "listen: localhost\nlog: {level: loud}\nlimits: {max_body_bytes: -1}\nmetering: {batch_size: -1}\n",
			[]string{`listen: "localhost" is not a host:port`, `log.level: "loud" is not one of`, "limits.max_body_bytes: must be positive", "metering.batch_size: must be positive"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.doc), env())
			if err == nil {
				t.Fatal("Parse = nil error, want one")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error:\n%s\nwant it to contain %q", err, w)
				}
			}
		})
	}
}

// TestValidateReportsAll checks that problems are joined, not cut short.
func TestValidateReportsAll(t *testing.T) {
	c := &Config{
		Providers: []Provider{{Name: "p"}, {Name: "p", Type: "x", BaseURL: "nope"}},
		Models:    []Model{{Alias: "a"}, {Alias: "a", Targets: []Target{{Provider: "q"}}}},
	}
	c.applyDefaults(env())
	err := c.Validate()
	if err == nil {
		t.Fatal("Validate = nil")
	}
	var n int
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		n = len(j.Unwrap())
	}
	if n < 8 {
		t.Errorf("Validate reported %d problems, want at least 8:\n%v", n, err)
	}
}

func TestSecretRedaction(t *testing.T) {
	c, err := Parse([]byte(`
admin_key: ${ADMIN}
providers:
  - name: p
    type: openai
    base_url: https://api.example.com/v1
    api_key: ${KEY}
`), env("ADMIN", testAdminKey, "KEY", testOpenAIKey))
	if err != nil {
		t.Fatal(err)
	}
	if c.Providers[0].APIKey.Reveal() != testOpenAIKey {
		t.Fatalf("Reveal = %q, want the key", c.Providers[0].APIKey.Reveal())
	}

	var out bytes.Buffer
	for _, f := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x"} {
		fmt.Fprintf(&out, f+"\n", c)
		fmt.Fprintf(&out, f+"\n", *c)
		fmt.Fprintf(&out, f+"\n", c.Providers[0])
		fmt.Fprintf(&out, f+"\n", c.AdminKey)
	}
	fmt.Fprintln(&out, c.AdminKey, c.Providers)
	for _, h := range []slog.Handler{
		slog.NewJSONHandler(&out, &slog.HandlerOptions{Level: slog.LevelDebug}),
		slog.NewTextHandler(&out, &slog.HandlerOptions{Level: slog.LevelDebug}),
	} {
		log := slog.New(h)
		log.Info("config", "admin_key", c.AdminKey, "config", c, "provider", c.Providers[0])
		log.Info("group", slog.Group("p", slog.Any("key", c.Providers[0].APIKey)))
		log.With("key", c.AdminKey).Debug("with")
	}
	if b, err := json.Marshal(c); err != nil {
		t.Errorf("json.Marshal: %v", err)
	} else {
		out.Write(b)
	}
	if b, err := yaml.Marshal(c); err != nil {
		t.Errorf("yaml.Marshal: %v", err)
	} else {
		out.Write(b)
	}

	s := out.String()
	for _, secret := range []string{testAdminKey, testOpenAIKey, "Secret-", fmt.Sprintf("%x", testOpenAIKey)} {
		if strings.Contains(s, secret) {
			t.Errorf("output reveals %q:\n%s", secret, s)
		}
	}
	if !strings.Contains(s, `"admin_key":"[redacted]"`) {
		t.Errorf("slog JSON did not redact admin_key as expected:\n%s", s)
	}
}

func TestPricing(t *testing.T) {
	c, err := Parse([]byte(`
providers:
  - {name: p, type: openai, base_url: "http://h"}
models:
  - alias: known
    targets: [{provider: p, model: gpt-4o-mini-2024-07-18}]
  - alias: overridden
    targets: [{provider: p, model: gpt-4o}]
  - alias: own
    targets: [{provider: p, model: whatever, price: {input_per_mtok: 1, output_per_mtok: 2}}]
  - alias: unpriced
    targets: [{provider: p, model: primary}, {provider: p, model: backup}]
prices:
  gpt-4o: {input_per_mtok: 0.5, output_per_mtok: 1.5}
`), env())
	if err != nil {
		t.Fatal(err)
	}
	cat := c.Catalog()
	tests := []struct {
		alias string
		want  billing.Price
		ok    bool
	}{
		{"known", billing.PriceFromUSD(0.15, 0.60, 0.075, 0), true},
		{"overridden", billing.PriceFromUSD(0.5, 1.5, 0, 0), true},
		{"own", billing.PriceFromUSD(1, 2, 0, 0), true},
		{"unpriced", billing.Price{}, false},
	}
	for _, tt := range tests {
		m, _ := c.Alias(tt.alias)
		got, ok := TargetPrice(m.Targets[0], cat)
		if got != tt.want || ok != tt.ok {
			t.Errorf("%s: TargetPrice = %+v, %v; want %+v, %v", tt.alias, got, ok, tt.want, tt.ok)
		}
	}
	if p, _ := billing.DefaultCatalog().Lookup("gpt-4o"); p == billing.PriceFromUSD(0.5, 1.5, 0, 0) {
		t.Error("prices overrides leaked into the default catalog")
	}
	w := c.Warnings()
	if len(w) != 2 || !strings.Contains(w[0], `"primary"`) || !strings.Contains(w[1], "models[3].targets[1]") {
		t.Errorf("Warnings = %q, want the two unpriced targets of models[3]", w)
	}
}

func TestProviderTypesKnown(t *testing.T) {
	for _, typ := range ProviderTypes {
		doc := fmt.Sprintf("providers:\n  - {name: p, type: %s, base_url: \"http://h\", region: us-east-1}\n", typ)
		if _, err := Parse([]byte(doc), env()); err != nil {
			t.Errorf("type %s: %v", typ, err)
		}
	}
}
