package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/causeway-ai/causeway/examples"
	"github.com/causeway-ai/causeway/internal/config"
	"github.com/causeway-ai/causeway/internal/server"
	"github.com/causeway-ai/causeway/internal/sim"
	"github.com/causeway-ai/causeway/internal/store"
)

var errUsage = errors.New("usage")

func newFlags(name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: causeway %s\n\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		return errUsage
	}
	return nil
}

func newLogger(level string) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		l = slog.LevelInfo
	}
	return slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: l}))
}

func runServe(args []string) error {
	fs := newFlags("serve", "serve [--config FILE]")
	cfgPath := fs.String("config", os.Getenv("CAUSEWAY_CONFIG"), "configuration `file` (default: detect providers from the environment)")
	listen := fs.String("listen", "", "listen `address`, overriding the configuration's listen (default from the config, else CAUSEWAY_LISTEN, else 127.0.0.1:8080)")
	if err := parse(fs, args); err != nil {
		return err
	}
	var cfg *config.Config
	var err error
	if *cfgPath != "" {
		cfg, err = config.Load(*cfgPath)
	} else {
		cfg, err = detectConfig(os.LookupEnv)
	}
	if err != nil {
		return err
	}
	if *listen != "" {
		cfg.Listen = *listen
	} else if v := os.Getenv("CAUSEWAY_LISTEN"); v != "" && *cfgPath == "" {
		cfg.Listen = v
	}
	log := newLogger(cfg.Log.Level)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var onReady func(*server.Server, string) error
	if *cfgPath != "" {
		path := *cfgPath
		onReady = func(srv *server.Server, _ string) error {
			go watchConfig(ctx, path, srv, log)
			return nil
		}
	}
	return serve(ctx, cfg, log, onReady)
}

// tuneGC makes the collector run less often than Go's default unless the
// operator chose (GOGC): a gateway's live heap is small and its garbage is
// per-request, so a higher target trades a few tens of megabytes for fewer
// collections competing with requests for CPU.
func tuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
}

// serve opens the store, listens and serves until ctx ends. onReady, if
// set, is called with the server and its address once it listens.
func serve(ctx context.Context, cfg *config.Config, log *slog.Logger, onReady func(*server.Server, string) error) error {
	tuneGC()
	st, err := store.Open(ctx, cfg.Store)
	if err != nil {
		return err
	}
	srv, err := server.New(cfg, st, log)
	if err != nil {
		st.Close()
		return err
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", cfg.Listen)
	if err != nil {
		_ = srv.Shutdown(context.Background())
		return err
	}
	addr := ln.Addr().String()
	log.Info("causeway listening", slog.String("addr", addr), slog.String("store", st.Dialect()),
		slog.Int("models", len(cfg.Models)), slog.String("version", version))
	if onReady != nil {
		if err := onReady(srv, addr); err != nil {
			ln.Close()
			_ = srv.Shutdown(context.Background())
			return err
		}
	}
	return srv.Serve(ctx, ln)
}

// detectConfig builds a configuration from provider credentials found in
// the environment, for `causeway serve` without --config.
func detectConfig(getenv func(string) (string, bool)) (*config.Config, error) {
	var b strings.Builder
	b.WriteString("providers:\n")
	var models strings.Builder
	found := 0
	if _, ok := getenv("OPENAI_API_KEY"); ok {
		base := "https://api.openai.com/v1"
		if v, ok := getenv("OPENAI_BASE_URL"); ok && v != "" {
			base = v
		}
		fmt.Fprintf(&b, "  - name: openai\n    type: openai\n    base_url: %q\n    api_key: ${OPENAI_API_KEY}\n", base)
		for _, m := range []string{"gpt-4.1", "gpt-4.1-mini", "gpt-4.1-nano", "gpt-4o", "gpt-4o-mini", "o4-mini", "text-embedding-3-small", "text-embedding-3-large"} {
			fmt.Fprintf(&models, "  - alias: %s\n    targets: [{provider: openai, model: %s}]\n", m, m)
		}
		found++
	}
	if _, ok := getenv("ANTHROPIC_API_KEY"); ok {
		fmt.Fprintf(&b, "  - name: anthropic\n    type: anthropic\n    api_key: ${ANTHROPIC_API_KEY}\n")
		for _, m := range []string{"claude-opus-4-1", "claude-sonnet-4-5", "claude-haiku-4-5"} {
			fmt.Fprintf(&models, "  - alias: %s\n    targets: [{provider: anthropic, model: %s}]\n", m, m)
		}
		found++
	}
	if key, ok := getenv("GEMINI_API_KEY"); ok && key != "" {
		fmt.Fprintf(&b, "  - name: gemini\n    type: gemini\n    api_key: ${GEMINI_API_KEY}\n")
		for _, m := range []string{"gemini-2.5-pro", "gemini-2.5-flash", "gemini-2.5-flash-lite", "gemini-embedding-001"} {
			fmt.Fprintf(&models, "  - alias: %s\n    targets: [{provider: gemini, model: %s}]\n", m, m)
		}
		found++
	}
	if endpoint, ok := getenv("AZURE_OPENAI_ENDPOINT"); ok && endpoint != "" {
		if _, ok := getenv("AZURE_OPENAI_API_KEY"); ok {
			version := "2024-10-21"
			if v, ok := getenv("AZURE_OPENAI_API_VERSION"); ok && v != "" {
				version = v
			}
			fmt.Fprintf(&b, "  - name: azure\n    type: azure\n    base_url: %q\n    api_key: ${AZURE_OPENAI_API_KEY}\n    api_version: %q\n", endpoint, version)
			deployments, _ := getenv("AZURE_OPENAI_DEPLOYMENTS")
			for _, d := range strings.Split(deployments, ",") {
				if d = strings.TrimSpace(d); d != "" {
					fmt.Fprintf(&models, "  - alias: %q\n    targets: [{provider: azure, model: %q}]\n", "azure/"+d, d)
				}
			}
			found++
		}
	}
	region, _ := getenv("AWS_REGION")
	if region == "" {
		region, _ = getenv("AWS_DEFAULT_REGION")
	}
	_, haveKey := getenv("AWS_ACCESS_KEY_ID")
	_, haveProfile := getenv("AWS_PROFILE")
	if region != "" && (haveKey || haveProfile) {
		// No static keys in the config: the standard AWS credential chain
		// reads the environment, profile or role.
		fmt.Fprintf(&b, "  - name: bedrock\n    type: bedrock\n    region: %q\n", region)
		// The cross-region inference-profile prefix: us, eu, apac, …
		geo := strings.SplitN(region, "-", 2)[0]
		if geo == "ap" {
			geo = "apac"
		}
		for _, m := range [][2]string{
			{"bedrock/claude-sonnet-4-5", geo + ".anthropic.claude-sonnet-4-5-20250929-v1:0"},
			{"bedrock/claude-haiku-4-5", geo + ".anthropic.claude-haiku-4-5-20251001-v1:0"},
			{"bedrock/nova-pro", geo + ".amazon.nova-pro-v1:0"},
			{"bedrock/nova-lite", geo + ".amazon.nova-lite-v1:0"},
			{"bedrock/titan-embed-v2", "amazon.titan-embed-text-v2:0"},
		} {
			fmt.Fprintf(&models, "  - alias: %q\n    targets: [{provider: bedrock, model: %q}]\n", m[0], m[1])
		}
		found++
	}
	ollama := "http://127.0.0.1:11434"
	if v, ok := getenv("OLLAMA_HOST"); ok && v != "" {
		ollama = v
		if !strings.Contains(ollama, "://") {
			ollama = "http://" + ollama
		}
	}
	if names := ollamaModels(ollama); len(names) > 0 {
		fmt.Fprintf(&b, "  - name: ollama\n    type: openai\n    base_url: %q\n", ollama+"/v1")
		for _, m := range names {
			fmt.Fprintf(&models, "  - alias: %q\n    targets: [{provider: ollama, model: %q, price: {input_per_mtok: 0, output_per_mtok: 0}}]\n", "ollama/"+m, m)
		}
		found++
	}
	if found == 0 {
		return nil, errors.New("no configuration given and no provider found in the environment (OPENAI_API_KEY, ANTHROPIC_API_KEY, GEMINI_API_KEY, AZURE_OPENAI_ENDPOINT with AZURE_OPENAI_API_KEY, AWS_REGION with AWS credentials, or an Ollama server on 127.0.0.1:11434); " +
			"pass --config FILE, or try `causeway demo` which needs no account")
	}
	b.WriteString("models:\n")
	b.WriteString(models.String())
	return config.Parse([]byte(b.String()), getenv)
}

// ollamaModels lists the models of an Ollama server, or nil if none answers.
func ollamaModels(base string) []string {
	c := &http.Client{Timeout: 500 * time.Millisecond}
	resp, err := c.Get(base + "/v1/models")
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	var list struct {
		Data []struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	if resp.StatusCode != 200 || jsonDecode(resp.Body, &list) != nil {
		return nil
	}
	var out []string
	for _, m := range list.Data {
		out = append(out, m.ID)
	}
	return out
}

func runDemo(args []string) error {
	fs := newFlags("demo", "demo [--listen ADDR] [--store DSN]")
	listen := fs.String("listen", envOr("CAUSEWAY_LISTEN", "127.0.0.1:8080"), "gateway listen `address`")
	storeDSN := fs.String("store", envOr("CAUSEWAY_STORE", "./causeway-data/demo.db"), "store: SQLite `path` or postgres:// URL")
	if err := parse(fs, args); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	s := sim.New(sim.Options{APIKey: "sim-key"})
	simSrv, simLn, err := s.Listen(ctx, "127.0.0.1:0")
	if err != nil {
		return err
	}
	go func() { _ = simSrv.Serve(simLn) }()
	defer simSrv.Close()

	adminKey := os.Getenv("CAUSEWAY_ADMIN_KEY")
	if adminKey == "" {
		adminKey = "demo-admin-" + strings.TrimPrefix(string(randomSuffix()), "")
	}
	env := map[string]string{
		"CAUSEWAY_SIM_URL":   "http://" + simLn.Addr().String(),
		"CAUSEWAY_LISTEN":    *listen,
		"CAUSEWAY_STORE":     *storeDSN,
		"CAUSEWAY_ADMIN_KEY": adminKey,
	}
	cfg, err := config.Parse(examples.Sim(), func(k string) (string, bool) {
		if v, ok := env[k]; ok {
			return v, true
		}
		return os.LookupEnv(k)
	})
	if err != nil {
		return err
	}
	log := newLogger("warn")
	return serve(ctx, cfg, log, func(srv *server.Server, addr string) error {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "/", nil)
		k, secret, err := server.CreateKey(req, srv.Store(), srv.Gateway(), "default", server.KeyRequest{Name: "demo", Team: "demo", User: "you"})
		if err != nil {
			return err
		}
		printDemo(os.Stdout, addr, k.ID, secret.Reveal(), adminKey, simLn.Addr().String())
		return nil
	})
}

func printDemo(w io.Writer, addr, keyID, key, adminKey, simAddr string) {
	fmt.Fprintf(w, `
Causeway demo is running: gateway on http://%[1]s, simulator on http://%[5]s
(store: embedded SQLite; press Ctrl-C to stop — usage is written before it exits).

  Demo key (shown once):  %[3]s
  Admin key:              %[4]s

Try it:

  curl -s http://%[1]s/v1/chat/completions \
    -H "Authorization: Bearer %[3]s" -H "Content-Type: application/json" \
    -d '{"model":"sim-openai","messages":[{"role":"user","content":"Hello, Causeway!"}]}'

  curl -sN http://%[1]s/v1/chat/completions \
    -H "Authorization: Bearer %[3]s" -H "Content-Type: application/json" \
    -d '{"model":"sim-openai","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"Stream, please"}]}'

  curl -s "http://%[1]s/admin/v1/usage?key_id=%[2]s" -H "Authorization: Bearer %[4]s"

The Responses API, state in this store (docs/runtime.md): a turn on Anthropic,
continued on Bedrock with its id, and a background response you can cancel:

  curl -s http://%[1]s/v1/responses \
    -H "Authorization: Bearer %[3]s" -H "Content-Type: application/json" \
    -d '{"model":"sim-anthropic","input":"Tell me about the bridge."}'

  curl -s http://%[1]s/v1/responses \
    -H "Authorization: Bearer %[3]s" -H "Content-Type: application/json" \
    -d '{"model":"sim-bedrock","input":"And then?","previous_response_id":"resp_..."}'

  curl -s http://%[1]s/v1/responses \
    -H "Authorization: Bearer %[3]s" -H "Content-Type: application/json" \
    -d '{"model":"sim-openai","input":"Take your time.","background":true}'

  curl -s http://%[1]s/v1/responses/resp_.../cost -H "Authorization: Bearer %[3]s"

Metrics:  http://%[1]s/metrics
Models:   curl -s http://%[1]s/v1/models -H "Authorization: Bearer %[3]s"

`, addr, keyID, key, adminKey, simAddr)
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// watchConfig reloads the configuration on SIGHUP and when the file
// changes (checked every two seconds), keeping the running one when the
// new one does not load.
func watchConfig(ctx context.Context, path string, srv *server.Server, log *slog.Logger) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	modTime := func() time.Time {
		if fi, err := os.Stat(path); err == nil {
			return fi.ModTime()
		}
		return time.Time{}
	}
	last := modTime()
	tick := time.NewTicker(2 * time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
		case <-tick.C:
			m := modTime()
			if m.Equal(last) {
				continue
			}
			last = m
		}
		cfg, err := config.Load(path)
		if err == nil {
			err = srv.Reload(cfg)
		}
		if err != nil {
			log.Error("config reload failed; keeping the running configuration", slog.String("config", path), slog.Any("error", err))
		}
	}
}
