package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/causeway-ai/causeway/internal/billing"
	"github.com/causeway-ai/causeway/internal/config"
	"github.com/causeway-ai/causeway/internal/identity"
	"github.com/causeway-ai/causeway/internal/server"
	"github.com/causeway-ai/causeway/internal/sim"
	"github.com/causeway-ai/causeway/internal/store"
)

func jsonDecode(r io.Reader, v any) error { return json.NewDecoder(r).Decode(v) }

func randomSuffix() []byte {
	const alphabet = "abcdefghijkmnopqrstuvwxyz23456789"
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return b
}

func runSim(args []string) error {
	fs := newFlags("sim", "sim [--listen ADDR] [--ttft D] [--itl D] [--api-key KEY]")
	listen := fs.String("listen", "127.0.0.1:9090", "listen `address`")
	ttft := fs.Duration("ttft", 0, "time to first token (0 = none)")
	itl := fs.Duration("itl", 0, "inter-token latency (0 = none)")
	apiKey := fs.String("api-key", "", "require this bearer `key` (default: accept any)")
	quiet := fs.Bool("quiet", false, "log only warnings and errors")
	if err := parse(fs, args); err != nil {
		return err
	}
	level := "info"
	if *quiet {
		level = "warn"
	}
	log := newLogger(level)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	s := sim.New(sim.Options{TTFT: *ttft, ITL: *itl, APIKey: *apiKey, Logger: log})
	srv, ln, err := s.Listen(ctx, *listen)
	if err != nil {
		return err
	}
	log.Info("causeway sim listening", slog.String("addr", ln.Addr().String()), slog.Duration("ttft", *ttft), slog.Duration("itl", *itl))
	fmt.Fprintf(os.Stderr, "causeway sim listening on http://%s\n", ln.Addr())
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.Serve(ln); err != nil && err != http.ErrServerClosed {
		return err
	}
	return nil
}

func runConfig(args []string) error {
	if len(args) == 0 || args[0] != "check" {
		fmt.Fprintln(os.Stderr, "Usage: causeway config check [--config FILE]")
		return errUsage
	}
	fs := newFlags("config check", "config check [--config FILE]")
	cfgPath := fs.String("config", os.Getenv("CAUSEWAY_CONFIG"), "configuration `file`")
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	if *cfgPath == "" {
		return fmt.Errorf("config check: --config FILE is required")
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		return err
	}
	if _, err := server.BuildAliases(cfg); err != nil {
		return err
	}
	for _, w := range cfg.Warnings() {
		fmt.Println("warning:", w)
	}
	fmt.Printf("%s: ok (%d providers, %d models)\n", *cfgPath, len(cfg.Providers), len(cfg.Models))
	return nil
}

func runKeys(args []string) error {
	const u = "Usage: causeway keys create|list|revoke [flags]"
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, u)
		return errUsage
	}
	sub, args := args[0], args[1:]
	fs := newFlags("keys "+sub, "keys "+sub+" [flags]")
	storeDSN := fs.String("store", "", "store: SQLite `path` or postgres:// URL (default: from --config, CAUSEWAY_STORE, or ./causeway-data/causeway.db)")
	cfgPath := fs.String("config", os.Getenv("CAUSEWAY_CONFIG"), "configuration `file` (its store and model aliases are used)")
	tenant := fs.String("tenant", identity.DefaultTenant, "`tenant` of the keys")
	var name, team, user, models *string
	var budget *float64
	var rpm, tpm *int
	switch sub {
	case "create":
		name = fs.String("name", "", "key `name` (required)")
		team = fs.String("team", "", "`team` the key belongs to")
		user = fs.String("user", "", "`user` the key belongs to")
		models = fs.String("models", "", "comma-separated model `aliases` the key may use (default: all)")
		budget = fs.Float64("budget-usd", 0, "spend budget in US `dollars` (0 = none)")
		rpm = fs.Int("rpm", 0, "requests per minute (0 = none)")
		tpm = fs.Int("tpm", 0, "tokens per minute (0 = none)")
	case "list":
	case "revoke":
		fs.Usage = func() { fmt.Fprintln(fs.Output(), "Usage: causeway keys revoke [flags] KEY_ID"); fs.PrintDefaults() }
	default:
		fmt.Fprintln(os.Stderr, u)
		return errUsage
	}
	if err := parse(fs, args); err != nil {
		return err
	}
	ctx := context.Background()
	dsn := *storeDSN
	var cfg *config.Config
	if *cfgPath != "" {
		var err error
		if cfg, err = config.Load(*cfgPath); err != nil {
			return err
		}
		if dsn == "" {
			dsn = cfg.Store
		}
	}
	if dsn == "" {
		dsn = envOr("CAUSEWAY_STORE", "./causeway-data/causeway.db")
	}
	st, err := store.Open(ctx, dsn)
	if err != nil {
		return err
	}
	defer st.Close()
	switch sub {
	case "create":
		if *name == "" {
			return fmt.Errorf("keys create: --name is required")
		}
		var ms []string
		for _, m := range strings.Split(*models, ",") {
			if m = strings.TrimSpace(m); m != "" {
				if cfg != nil {
					if _, ok := cfg.Alias(m); !ok {
						return fmt.Errorf("keys create: unknown model alias %q in %s", m, *cfgPath)
					}
				}
				ms = append(ms, m)
			}
		}
		secret, hash, prefix := identity.GenerateKey()
		k := &identity.Key{ID: identity.NewID("key_"), Tenant: *tenant, Name: *name, Team: *team, User: *user,
			Hash: hash, Prefix: prefix, Models: ms, RPM: *rpm, TPM: *tpm, CreatedAt: time.Now().UTC().Truncate(time.Microsecond)}
		if *budget < 0 {
			return fmt.Errorf("keys create: --budget-usd must not be negative")
		}
		k.BudgetNanoUSD = billing.FromUSD(*budget)
		if err := st.CreateKey(ctx, k); err != nil {
			return err
		}
		fmt.Printf("id:  %s\nkey: %s\n(the key is shown only now; Causeway stores only its hash)\n", k.ID, secret.Reveal())
	case "list":
		keys, err := st.ListKeys(ctx, *tenant)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tPREFIX\tNAME\tTEAM\tUSER\tMODELS\tBUDGET_USD\tCREATED\tREVOKED")
		for _, k := range keys {
			rev := ""
			if k.RevokedAt != nil {
				rev = k.RevokedAt.Format(time.RFC3339)
			}
			bud := "-"
			if k.BudgetNanoUSD > 0 {
				bud = fmt.Sprint(billing.USD(k.BudgetNanoUSD))
			}
			ms := strings.Join(k.Models, ",")
			if ms == "" {
				ms = "*"
			}
			fmt.Fprintf(tw, "%s\t%s…\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Prefix, k.Name, k.Team, k.User, ms, bud, k.CreatedAt.Format(time.RFC3339), rev)
		}
		return tw.Flush()
	case "revoke":
		if fs.NArg() != 1 {
			return fmt.Errorf("keys revoke: give exactly one KEY_ID")
		}
		if err := st.RevokeKey(ctx, *tenant, fs.Arg(0), time.Now().UTC()); err != nil {
			return err
		}
		fmt.Printf("revoked %s (servers stop accepting it within their key cache TTL, 10s)\n", fs.Arg(0))
	}
	return nil
}
