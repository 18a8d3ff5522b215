// Command memory measures how well long-term memory finds what a user
// told it (issue #5): recall@5 and recall@1 over a generated, labelled
// multi-session data set (dataset.go), for full-text search alone, vector
// similarity alone and the two fused (what Recall does when an embedding
// model is configured). Every utterance of every session is stored as a
// memory through the memory service, embedded by the in-process
// simulator's embeddings (feature hashing: see bench/README.md), then
// each question is asked with memory.Service.RecallMode — Recall, what
// the runtime calls, with a mode — and a question counts as recalled when
// the memory that states its fact is among the first k. It runs on SQLite
// (FTS5, bm25) and, when reachable, PostgreSQL (tsvector, ts_rank), prints
// a Markdown report and writes it to bench/out/. See bench/README.md.
//
//	go run ./bench/memory [-users 20] [-sessions 5] [-seed 1] [-k 5] [-pg URL]
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver, for CREATE DATABASE

	"github.com/causeway-ai/causeway/bench/internal/benchkit"
	"github.com/causeway-ai/causeway/internal/identity"
	"github.com/causeway-ai/causeway/internal/llm"
	"github.com/causeway-ai/causeway/internal/memory"
	"github.com/causeway-ai/causeway/internal/sim"
	"github.com/causeway-ai/causeway/internal/store"
)

// embedModel is the simulator's upstream model the bench embeds with.
const embedModel = "text-embedding-3-small"

// simEmbedder embeds through the simulator's OpenAI embeddings route,
// straight (no gateway: the bench measures retrieval, not metering).
type simEmbedder struct{ url string }

func (e simEmbedder) Embed(ctx context.Context, _ *identity.Principal, req *llm.EmbeddingRequest) (*llm.EmbeddingResponse, error) {
	body, _ := json.Marshal(map[string]any{"model": embedModel, "input": req.Input})
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, e.url+"/v1/embeddings", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	hr.Header.Set("Content-Type", "application/json")
	hr.Header.Set("Authorization", "Bearer bench")
	resp, err := http.DefaultClient.Do(hr)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("sim embeddings: status %d", resp.StatusCode)
	}
	var out struct {
		Data []struct {
			Embedding []float32 `json:"embedding"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return nil, err
	}
	er := &llm.EmbeddingResponse{Model: req.Model}
	for _, d := range out.Data {
		er.Vectors = append(er.Vectors, d.Embedding)
	}
	return er, nil
}

// modes are the rankings compared, in report order.
var modes = []string{memory.ModeText, memory.ModeVector, memory.ModeHybrid}

const namespace = "chat"

func main() {
	users := flag.Int("users", 20, "fictional users (one fact per category each: 10 facts a user)")
	sessions := flag.Int("sessions", 5, "sessions each user's utterances are spread over")
	seed := flag.Uint64("seed", 1, "seed of the data set")
	k := flag.Int("k", 5, "recall@k")
	pg := flag.String("pg", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable", "PostgreSQL server to create a scratch database on (\"\" to skip)")
	outDir := flag.String("out", "", "report directory (default bench/out)")
	flag.Parse()
	if err := run(*users, *sessions, *seed, *k, *pg, *outDir); err != nil {
		fmt.Fprintln(os.Stderr, "memory bench:", err)
		os.Exit(1)
	}
}

// result is one store's score.
type result struct {
	store, mode        string
	memories           int
	questions          int
	recalled, atOne    int
	mrr                float64
	byCategory         map[string][2]int // recalled, asked
	byVariant          [3][2]int
	ingest, queryTotal time.Duration
	misses             []string
}

func run(users, sessions int, seed uint64, k int, pgURL, outDir string) error {
	ctx := context.Background()
	started := time.Now()
	root, err := benchkit.ModuleRoot("memory")
	if err != nil {
		return err
	}
	data := generate(seed, users, sessions)
	dir, err := os.MkdirTemp("", "causeway-bench-memory-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	simSrv := httptest.NewServer(sim.New(sim.Options{}))
	defer simSrv.Close()
	emb := simEmbedder{url: simSrv.URL}

	var results []result
	var notes []string
	sq, err := store.Open(ctx, filepath.Join(dir, "memory.db"))
	if err != nil {
		return err
	}
	r, err := measure(ctx, "sqlite", sq, emb, data, k)
	sq.Close()
	if err != nil {
		return err
	}
	results = append(results, r...)

	if pgURL != "" {
		dsn, drop, err := scratchPostgres(ctx, pgURL)
		if err != nil {
			notes = append(notes, fmt.Sprintf("PostgreSQL left out: %v", err))
			benchkit.Logf("PostgreSQL left out: %v", err)
		} else {
			pst, err := store.Open(ctx, dsn)
			if err != nil {
				drop()
				return err
			}
			r, err := measure(ctx, "postgres", pst, emb, data, k)
			pst.Close()
			drop()
			if err != nil {
				return err
			}
			results = append(results, r...)
		}
	}

	report := render(users, sessions, seed, k, started, root, results, notes)
	fmt.Print(report)
	return benchkit.WriteReport(root, outDir, "memory", started, report)
}

func measure(ctx context.Context, name string, st *store.Store, emb memory.Embedder, data []user, k int) ([]result, error) {
	svc := &memory.Service{Store: st, Embedder: emb, EmbeddingModel: "sim-embed"}
	p := &identity.Principal{Tenant: "bench", User: "bench"}
	benchkit.Logf("%s: ingesting", name)
	t0 := time.Now()
	// evidence[u][f] is the id of the memory stating user u's fact f.
	evidence := make([][]string, len(data))
	memories := 0
	for ui, u := range data {
		evidence[ui] = make([]string, len(u.facts))
		for i, ut := range u.utterances {
			rec, err := svc.Create(ctx, p, owner(u), memory.CreateParams{
				Namespace:     namespace,
				Text:          ut.text,
				Metadata:      map[string]string{"session": fmt.Sprint(ut.session)},
				SourceItemIDs: []string{fmt.Sprintf("msg_s%d_%03d", ut.session, i)},
			})
			if err != nil {
				return nil, err
			}
			memories++
			if ut.fact >= 0 {
				evidence[ui][ut.fact] = rec.ID
			}
		}
	}
	ingest := time.Since(t0)
	var out []result
	for _, mode := range modes {
		res := result{store: name, mode: mode, memories: memories, ingest: ingest, byCategory: map[string][2]int{}}
		benchkit.Logf("%s: asking (%s)", name, mode)
		t0 = time.Now()
		for ui, u := range data {
			o := owner(u)
			for fi, f := range u.facts {
				recs, err := svc.RecallMode(ctx, p, o, namespace, f.question, mode, k)
				if err != nil {
					return nil, err
				}
				res.questions++
				rank := slices.IndexFunc(recs, func(r memory.Record) bool { return r.ID == evidence[ui][fi] })
				c := res.byCategory[f.category]
				c[1]++
				res.byVariant[f.variant][1]++
				if rank >= 0 {
					res.recalled++
					c[0]++
					res.byVariant[f.variant][0]++
					res.mrr += 1 / float64(rank+1)
					if rank == 0 {
						res.atOne++
					}
				} else if len(res.misses) < 5 {
					top := "nothing"
					if len(recs) > 0 {
						top = fmt.Sprintf("%q", recs[0].Text)
					}
					res.misses = append(res.misses, fmt.Sprintf("%s asked %q; the evidence was %q; first recalled: %s",
						u.name, f.question, statementOf(u, fi), top))
				}
				res.byCategory[f.category] = c
			}
		}
		res.queryTotal = time.Since(t0)
		res.mrr /= float64(res.questions)
		out = append(out, res)
	}
	return out, nil
}

func owner(u user) store.Owner { return store.Owner{Tenant: "bench", Subject: strings.ToLower(u.name)} }

func statementOf(u user, fi int) string {
	for _, ut := range u.utterances {
		if ut.fact == fi {
			return ut.text
		}
	}
	return ""
}

// scratchPostgres creates a fresh database on the server and returns its
// dsn and a function that drops it.
func scratchPostgres(ctx context.Context, base string) (string, func(), error) {
	u, err := url.Parse(base)
	if err != nil {
		return "", nil, err
	}
	admin, err := sql.Open("pgx", base)
	if err != nil {
		return "", nil, err
	}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := admin.PingContext(pctx); err != nil {
		admin.Close()
		return "", nil, fmt.Errorf("%s unreachable: %w", u.Redacted(), err)
	}
	var b [6]byte
	rand.Read(b[:])
	name := "causeway_bench_memory_" + hex.EncodeToString(b[:])
	if _, err := admin.ExecContext(ctx, `CREATE DATABASE `+name); err != nil {
		admin.Close()
		return "", nil, err
	}
	u.Path = "/" + name
	return u.String(), func() {
		if _, err := admin.ExecContext(context.Background(), `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`); err != nil {
			benchkit.Logf("drop %s: %v", name, err)
		}
		admin.Close()
	}, nil
}

func pct(a, b int) string {
	if b == 0 {
		return "–"
	}
	return fmt.Sprintf("%.1f%% (%d/%d)", 100*float64(a)/float64(b), a, b)
}

func render(users, sessions int, seed uint64, k int, started time.Time, root string, rs []result, notes []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Long-term memory: recall@%d\n\n", k)
	fmt.Fprintf(&b, "- command: `%s`\n", benchkit.CommandLine("memory", os.Args[1:]))
	fmt.Fprintf(&b, "- date: %s\n- commit: %s\n", started.UTC().Format(time.RFC3339), benchkit.Revision(root))
	fmt.Fprintf(&b, "- data set: seed %d, %d users × %d facts, %d sessions each; per user %d utterances (facts, 3 distractors per fact, 6 neutral remarks); one question per fact\n\n",
		seed, users, len(categories), sessions, len(categories)*4+6)
	fmt.Fprintf(&b, "- ranking: text = full text only (FTS5 bm25 / PostgreSQL ts_rank); vector = cosine similarity of the simulator's feature-hashed embeddings (%s, not a semantic model: see bench/README.md); hybrid = both, top %d of each fused by Reciprocal Rank Fusion (k=%d), what Recall does with memory.embedding_model set\n", embedModel, memory.FusionDepth, memory.RRFK)
	fmt.Fprintf(&b, "- ingest includes embedding every memory through the in-process simulator over loopback HTTP; mean query includes embedding the question (vector, hybrid)\n\n")
	fmt.Fprintf(&b, "| store | ranking | memories | questions | recall@%d | recall@1 | MRR@%d | ingest | mean query |\n|---|---|---|---|---|---|---|---|---|\n", k, k)
	for _, r := range rs {
		fmt.Fprintf(&b, "| %s | %s | %d | %d | **%s** | %s | %.3f | %s | %s |\n", r.store, r.mode, r.memories, r.questions,
			pct(r.recalled, r.questions), pct(r.atOne, r.questions), r.mrr, r.ingest.Round(time.Millisecond),
			benchkit.MS(r.queryTotal/time.Duration(max(r.questions, 1))))
	}
	fmt.Fprintf(&b, "\n### recall@%d by category\n\n| category |", k)
	for _, r := range rs {
		fmt.Fprintf(&b, " %s %s |", r.store, r.mode)
	}
	b.WriteString("\n|---|")
	for range rs {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	for _, c := range categories {
		fmt.Fprintf(&b, "| %s |", c.name)
		for _, r := range rs {
			v := r.byCategory[c.name]
			fmt.Fprintf(&b, " %s |", pct(v[0], v[1]))
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "\n### recall@%d by question phrasing\n\nPhrasing 0 shares the most words with the fact's statements, 2 the fewest (e.g. \"Remind me what I named my pet.\" for \"My dog is called Biscuit.\").\n\n| phrasing |", k)
	for _, r := range rs {
		fmt.Fprintf(&b, " %s %s |", r.store, r.mode)
	}
	b.WriteString("\n|---|")
	for range rs {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	for v := range 3 {
		fmt.Fprintf(&b, "| %d |", v)
		for _, r := range rs {
			fmt.Fprintf(&b, " %s |", pct(r.byVariant[v][0], r.byVariant[v][1]))
		}
		b.WriteString("\n")
	}
	for _, r := range rs {
		if len(r.misses) == 0 {
			continue
		}
		fmt.Fprintf(&b, "\n### Some misses (%s, %s)\n\n", r.store, r.mode)
		for _, m := range r.misses {
			fmt.Fprintf(&b, "- %s\n", m)
		}
	}
	for _, n := range notes {
		fmt.Fprintf(&b, "\n%s\n", n)
	}
	return b.String()
}
