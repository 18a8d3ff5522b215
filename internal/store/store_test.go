package store_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/causeway-ai/causeway/internal/billing"
	"github.com/causeway-ai/causeway/internal/identity"
	"github.com/causeway-ai/causeway/internal/store"
	"github.com/causeway-ai/causeway/internal/store/storetest"
)

// t0 is a fixed instant with sub-microsecond digits, which the store drops.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 123_456_789, time.UTC)

func newKey(tenant, id string, created time.Time) *identity.Key {
	return &identity.Key{
		ID:            id,
		Tenant:        tenant,
		Name:          "name-" + id,
		Team:          "team-a",
		User:          "alice",
		Hash:          identity.HashKey("secret-" + id),
		Prefix:        "sk-cw-" + id[:2],
		Models:        []string{"gpt-mini", "claude"},
		BudgetNanoUSD: 5 * billing.NanoPerUSD,
		RPM:           60,
		TPM:           100_000,
		CreatedAt:     created,
	}
}

// want is how a key reads back: times to the microsecond, in UTC.
func want(k *identity.Key) identity.Key {
	w := *k
	w.CreatedAt = k.CreatedAt.Truncate(time.Microsecond).UTC()
	if k.RevokedAt != nil {
		r := k.RevokedAt.Truncate(time.Microsecond).UTC()
		w.RevokedAt = &r
	}
	return w
}

func TestOpen(t *testing.T) {
	for _, kind := range storetest.Kinds {
		t.Run(kind, func(t *testing.T) {
			s := storetest.Open(t, kind)
			if got := s.Dialect(); got != kind {
				t.Errorf("Dialect() = %q, want %q", got, kind)
			}
			if err := s.Ping(t.Context()); err != nil {
				t.Errorf("Ping: %v", err)
			}
			v, err := s.SchemaVersion(t.Context())
			if err != nil || v != store.SchemaLatest {
				t.Errorf("SchemaVersion() = %d, %v; want %d, nil", v, err, store.SchemaLatest)
			}
		})
	}
}

func TestOpenSQLiteMemory(t *testing.T) {
	s, err := store.Open(t.Context(), ":memory:")
	if err != nil {
		t.Fatalf("Open(:memory:): %v", err)
	}
	defer s.Close()
	k := newKey("t1", "key1", t0)
	if err := s.CreateKey(t.Context(), k); err != nil {
		t.Fatalf("CreateKey: %v", err)
	}
	got, err := s.GetKey(t.Context(), "t1", "key1")
	if err != nil || got.ID != "key1" {
		t.Fatalf("GetKey = %+v, %v; want key1", got, err)
	}
}

func TestOpenSQLiteCreatesParentDirs(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a", "b", "causeway.db")
	s, err := store.Open(t.Context(), path)
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	s.Close()
}

func TestKeys(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		k1 := newKey("t1", "key1", t0)
		k2 := newKey("t1", "key2", t0.Add(time.Minute))
		k2.Models = nil
		k2.Team, k2.User = "", ""
		for _, k := range []*identity.Key{k1, k2} {
			if err := s.CreateKey(ctx, k); err != nil {
				t.Fatalf("CreateKey(%s): %v", k.ID, err)
			}
		}

		got, err := s.GetKey(ctx, "t1", "key1")
		if err != nil {
			t.Fatalf("GetKey: %v", err)
		}
		if w := want(k1); !reflect.DeepEqual(*got, w) {
			t.Errorf("GetKey:\n got %+v\nwant %+v", *got, w)
		}
		got, err = s.KeyByHash(ctx, k2.Hash)
		if err != nil {
			t.Fatalf("KeyByHash: %v", err)
		}
		if w := want(k2); !reflect.DeepEqual(*got, w) {
			t.Errorf("KeyByHash:\n got %+v\nwant %+v", *got, w)
		}
		if _, err := s.KeyByHash(ctx, identity.HashKey("nope")); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("KeyByHash(unknown) error = %v, want ErrNotFound", err)
		}
		if _, err := s.GetKey(ctx, "t1", "nope"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetKey(unknown) error = %v, want ErrNotFound", err)
		}

		// Revoke: twice keeps the first time; the list keeps revoked keys.
		first := t0.Add(time.Hour)
		if err := s.RevokeKey(ctx, "t1", "key1", first); err != nil {
			t.Fatalf("RevokeKey: %v", err)
		}
		if err := s.RevokeKey(ctx, "t1", "key1", first.Add(time.Hour)); err != nil {
			t.Fatalf("RevokeKey again: %v", err)
		}
		got, err = s.GetKey(ctx, "t1", "key1")
		if err != nil {
			t.Fatalf("GetKey after revoke: %v", err)
		}
		if w := first.Truncate(time.Microsecond); got.RevokedAt == nil || !got.RevokedAt.Equal(w) {
			t.Errorf("RevokedAt = %v, want %v", got.RevokedAt, w)
		}
		if err := s.RevokeKey(ctx, "t1", "nope", first); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("RevokeKey(unknown) error = %v, want ErrNotFound", err)
		}

		list, err := s.ListKeys(ctx, "t1")
		if err != nil {
			t.Fatalf("ListKeys: %v", err)
		}
		var ids []string
		for _, k := range list {
			ids = append(ids, k.ID)
		}
		if w := []string{"key2", "key1"}; !reflect.DeepEqual(ids, w) {
			t.Errorf("ListKeys ids = %v, want %v (newest first)", ids, w)
		}
		if len(list) == 2 && !list[1].Revoked() {
			t.Errorf("ListKeys: key1 Revoked() = false, want true")
		}
	})
}

func TestCreateKeyDefaultsCreatedAt(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s *store.Store) {
		k := newKey("t1", "key1", time.Time{})
		before := time.Now().Add(-time.Second)
		if err := s.CreateKey(t.Context(), k); err != nil {
			t.Fatalf("CreateKey: %v", err)
		}
		if k.CreatedAt.Before(before) {
			t.Errorf("CreatedAt = %v, want about now", k.CreatedAt)
		}
		got, err := s.GetKey(t.Context(), "t1", "key1")
		if err != nil {
			t.Fatalf("GetKey: %v", err)
		}
		if !got.CreatedAt.Equal(k.CreatedAt) {
			t.Errorf("stored CreatedAt = %v, want %v", got.CreatedAt, k.CreatedAt)
		}
	})
}

func TestKeyTenantScoping(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		if err := s.CreateKey(ctx, newKey("t1", "key1", t0)); err != nil {
			t.Fatalf("CreateKey: %v", err)
		}
		if _, err := s.GetKey(ctx, "t2", "key1"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetKey(other tenant) error = %v, want ErrNotFound", err)
		}
		if err := s.RevokeKey(ctx, "t2", "key1", t0); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("RevokeKey(other tenant) error = %v, want ErrNotFound", err)
		}
		if got, err := s.GetKey(ctx, "t1", "key1"); err != nil || got.Revoked() {
			t.Errorf("after other tenant's revoke: GetKey = %+v, %v; want not revoked", got, err)
		}
		list, err := s.ListKeys(ctx, "t2")
		if err != nil || len(list) != 0 {
			t.Errorf("ListKeys(other tenant) = %v, %v; want none", list, err)
		}
	})
}

func TestCreateKeyConflict(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		k := newKey("t1", "key1", t0)
		if err := s.CreateKey(ctx, k); err != nil {
			t.Fatalf("CreateKey: %v", err)
		}
		sameHash := newKey("t2", "key2", t0)
		sameHash.Hash = k.Hash
		if err := s.CreateKey(ctx, sameHash); !errors.Is(err, store.ErrConflict) {
			t.Errorf("CreateKey(duplicate hash) error = %v, want ErrConflict", err)
		}
		sameID := newKey("t1", "key1", t0)
		sameID.Hash = identity.HashKey("other")
		if err := s.CreateKey(ctx, sameID); !errors.Is(err, store.ErrConflict) {
			t.Errorf("CreateKey(duplicate id) error = %v, want ErrConflict", err)
		}
		if err := s.CreateKey(ctx, &identity.Key{ID: "x", Hash: "y"}); err == nil {
			t.Errorf("CreateKey(no tenant) error = nil, want an error")
		}
	})
}

// rec returns a usage record; request ids are "r<n>".
func rec(n, attempt int, key, team, user string, at time.Time, cost int64) billing.Record {
	return billing.Record{
		RequestID:     fmt.Sprintf("r%05d", n),
		Attempt:       attempt,
		Tenant:        "t1",
		KeyID:         key,
		Team:          team,
		User:          user,
		Endpoint:      "chat",
		Alias:         "gpt-mini",
		Provider:      "openai",
		UpstreamModel: "gpt-4o-mini",
		InputTokens:   100,
		OutputTokens:  10,
		CostNanoUSD:   cost,
		Status:        billing.StatusOK,
		HTTPStatus:    200,
		StartedAt:     at,
	}
}

// recs returns records r<from>…r<to-1>, attempt 1, key k1, one second apart.
func recs(from, to int) []billing.Record {
	var rs []billing.Record
	for n := from; n < to; n++ {
		rs = append(rs, rec(n, 1, "k1", "team-a", "alice", t0.Add(time.Duration(n)*time.Second), 1000))
	}
	return rs
}

func summary(t *testing.T, s *store.Store, f billing.UsageFilter) billing.Summary {
	t.Helper()
	sum, err := s.UsageSummary(t.Context(), f)
	if err != nil {
		t.Fatalf("UsageSummary(%+v): %v", f, err)
	}
	return sum
}

func TestInsertUsageIdempotent(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		batch := recs(0, 10)
		for i := range 2 {
			if err := s.InsertUsage(ctx, batch); err != nil {
				t.Fatalf("InsertUsage #%d: %v", i+1, err)
			}
		}
		// Overlapping batches, and a duplicate inside one batch.
		if err := s.InsertUsage(ctx, recs(5, 15)); err != nil {
			t.Fatalf("InsertUsage(overlap): %v", err)
		}
		if err := s.InsertUsage(ctx, append(recs(14, 20), recs(19, 20)...)); err != nil {
			t.Fatalf("InsertUsage(duplicate in batch): %v", err)
		}
		got := summary(t, s, billing.UsageFilter{Tenant: "t1"})
		w := billing.Summary{Requests: 20, InputTokens: 2000, OutputTokens: 200, CostNanoUSD: 20_000}
		if got != w {
			t.Errorf("UsageSummary = %+v, want %+v", got, w)
		}
		if err := s.InsertUsage(ctx, nil); err != nil {
			t.Errorf("InsertUsage(nil): %v", err)
		}
	})
}

func TestUsageSummaryFilters(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		rs := []billing.Record{
			rec(1, 1, "k1", "team-a", "alice", t0, 100),
			rec(1, 2, "k1", "team-a", "alice", t0.Add(time.Second), 200), // retry: same request
			rec(2, 1, "k1", "team-a", "bob", t0.Add(time.Hour), 300),
			rec(3, 1, "k2", "team-b", "bob", t0.Add(2*time.Hour), 400),
			rec(4, 1, "k3", "", "", t0.Add(3*time.Hour), 500),
		}
		other := rec(5, 1, "k1", "team-a", "alice", t0, 10_000)
		other.Tenant = "t2"
		if err := s.InsertUsage(ctx, append(rs, other)); err != nil {
			t.Fatalf("InsertUsage: %v", err)
		}
		tests := []struct {
			name        string
			f           billing.UsageFilter
			requests    int64
			inputTokens int64
			costNanoUSD int64
		}{
			{"tenant", billing.UsageFilter{Tenant: "t1"}, 4, 500, 1500},
			{"other tenant", billing.UsageFilter{Tenant: "t2"}, 1, 100, 10_000},
			{"no such tenant", billing.UsageFilter{Tenant: "t3"}, 0, 0, 0},
			{"key", billing.UsageFilter{Tenant: "t1", KeyID: "k1"}, 2, 300, 600},
			{"team", billing.UsageFilter{Tenant: "t1", Team: "team-b"}, 1, 100, 400},
			{"user", billing.UsageFilter{Tenant: "t1", User: "bob"}, 2, 200, 700},
			{"key and user", billing.UsageFilter{Tenant: "t1", KeyID: "k1", User: "bob"}, 1, 100, 300},
			{"from inclusive", billing.UsageFilter{Tenant: "t1", From: t0.Add(time.Hour)}, 3, 300, 1200},
			{"to exclusive", billing.UsageFilter{Tenant: "t1", To: t0.Add(time.Hour)}, 1, 200, 300},
			{"range", billing.UsageFilter{Tenant: "t1", From: t0.Add(time.Second), To: t0.Add(2*time.Hour + time.Microsecond)}, 3, 300, 900},
		}
		for _, tt := range tests {
			got := summary(t, s, tt.f)
			w := billing.Summary{Requests: tt.requests, InputTokens: tt.inputTokens, OutputTokens: tt.inputTokens / 10, CostNanoUSD: tt.costNanoUSD}
			if got != w {
				t.Errorf("%s: UsageSummary = %+v, want %+v", tt.name, got, w)
			}
		}
		if _, err := s.UsageSummary(ctx, billing.UsageFilter{}); err == nil {
			t.Errorf("UsageSummary(no tenant) error = nil, want an error")
		}
	})
}

func TestSpendByKey(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		other := rec(9, 1, "k1", "", "", t0, 1_000_000)
		other.Tenant = "t2"
		rs := []billing.Record{
			rec(1, 1, "k1", "", "", t0, 1_500_000_000),
			rec(1, 2, "k1", "", "", t0, 2_500_000_000),
			rec(2, 1, "k2", "", "", t0, 7),
			other,
		}
		if err := s.InsertUsage(ctx, rs); err != nil {
			t.Fatalf("InsertUsage: %v", err)
		}
		for _, tt := range []struct {
			tenant, key string
			want        int64
		}{
			{"t1", "k1", 4_000_000_000},
			{"t1", "k2", 7},
			{"t1", "none", 0},
			{"t2", "k1", 1_000_000},
		} {
			got, err := s.SpendByKey(ctx, tt.tenant, tt.key)
			if err != nil || got != tt.want {
				t.Errorf("SpendByKey(%s, %s) = %d, %v; want %d, nil", tt.tenant, tt.key, got, err, tt.want)
			}
		}
	})
}

func TestListUsage(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		full := billing.Record{
			RequestID: "req-full", Attempt: 2, Tenant: "t1", KeyID: "k1", Team: "team-a", User: "alice",
			Endpoint: "chat", Alias: "sim-openai", Provider: "openai", UpstreamModel: "gpt-4o",
			InputTokens: 1, OutputTokens: 2, CachedTokens: 3, CacheWrite: 4, Reasoning: 5,
			CostNanoUSD: 6, Status: billing.StatusPartial, HTTPStatus: 502, ErrorKind: "upstream_cut",
			Streamed: true, StartedAt: t0.Add(time.Hour), Latency: 1500*time.Millisecond + 999, TTFT: 250 * time.Millisecond,
		}
		if err := s.InsertUsage(ctx, append(recs(0, 5), full)); err != nil {
			t.Fatalf("InsertUsage: %v", err)
		}
		got, err := s.ListUsage(ctx, billing.UsageFilter{Tenant: "t1"}, 3)
		if err != nil {
			t.Fatalf("ListUsage: %v", err)
		}
		if len(got) != 3 {
			t.Fatalf("ListUsage returned %d records, want 3", len(got))
		}
		w := full
		w.StartedAt = full.StartedAt.Truncate(time.Microsecond)
		w.Latency = full.Latency.Truncate(time.Microsecond)
		if !reflect.DeepEqual(got[0], w) {
			t.Errorf("ListUsage[0]:\n got %+v\nwant %+v", got[0], w)
		}
		if got[1].RequestID != "r00004" || got[2].RequestID != "r00003" {
			t.Errorf("ListUsage order = %s, %s, want r00004, r00003 (newest first)", got[1].RequestID, got[2].RequestID)
		}
		got, err = s.ListUsage(ctx, billing.UsageFilter{Tenant: "t2"}, 0)
		if err != nil || len(got) != 0 {
			t.Errorf("ListUsage(other tenant) = %v, %v; want none", got, err)
		}
	})
}

func TestInsertUsageBigBatch(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s *store.Store) {
		const n = 2500
		if err := s.InsertUsage(t.Context(), recs(0, n)); err != nil {
			t.Fatalf("InsertUsage(%d records): %v", n, err)
		}
		// Again, shifted: only the last 10 are new.
		if err := s.InsertUsage(t.Context(), recs(10, n+10)); err != nil {
			t.Fatalf("InsertUsage(%d records, shifted): %v", n, err)
		}
		got := summary(t, s, billing.UsageFilter{Tenant: "t1"})
		if got.Requests != n+10 || got.CostNanoUSD != (n+10)*1000 {
			t.Errorf("UsageSummary = %+v, want %d requests costing %d", got, n+10, (n+10)*1000)
		}
	})
}

func TestInsertUsageConcurrent(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s *store.Store) {
		// 8 writers, 10 batches of 50 each; neighbours overlap by half a
		// batch, so the same records race each other.
		const writers, batches, size = 8, 10, 50
		var wg sync.WaitGroup
		errs := make(chan error, writers*batches)
		for w := range writers {
			wg.Go(func() {
				for b := range batches {
					from := (b*writers + w) * size / 2
					if err := s.InsertUsage(t.Context(), recs(from, from+size)); err != nil {
						errs <- fmt.Errorf("writer %d batch %d: %w", w, b, err)
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		// The batches cover r0 … r(last from + size).
		total := int64(((batches-1)*writers+writers-1)*size/2 + size)
		got := summary(t, s, billing.UsageFilter{Tenant: "t1"})
		if got.Requests != total || got.CostNanoUSD != total*1000 {
			t.Errorf("UsageSummary = %+v, want %d requests costing %d", got, total, total*1000)
		}
	})
}

// TestReopen opens a store twice on the same database, one after the
// other: migrations are recorded and not run again, and data survives.
func TestReopen(t *testing.T) {
	for _, kind := range storetest.Kinds {
		t.Run(kind, func(t *testing.T) {
			ctx := t.Context()
			dsn := storetest.DSN(t, kind)
			s, err := store.Open(ctx, dsn)
			if err != nil {
				t.Fatalf("Open #1: %v", err)
			}
			if err := s.CreateKey(ctx, newKey("t1", "key1", t0)); err != nil {
				t.Fatalf("CreateKey: %v", err)
			}
			if err := s.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			s, err = store.Open(ctx, dsn)
			if err != nil {
				t.Fatalf("Open #2: %v", err)
			}
			defer s.Close()
			if v, err := s.SchemaVersion(ctx); err != nil || v != store.SchemaLatest {
				t.Errorf("SchemaVersion() = %d, %v; want %d, nil", v, err, store.SchemaLatest)
			}
			if _, err := s.GetKey(ctx, "t1", "key1"); err != nil {
				t.Errorf("GetKey after reopen: %v", err)
			}
		})
	}
}

// TestConcurrentOpen starts several stores on one new database at once,
// as several processes would: migrations must not collide, and the stores
// then write to the database side by side.
func TestConcurrentOpen(t *testing.T) {
	for _, kind := range storetest.Kinds {
		t.Run(kind, func(t *testing.T) {
			dsn := storetest.DSN(t, kind)
			const n = 4
			stores := make([]*store.Store, n)
			errs := make([]error, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() { stores[i], errs[i] = store.Open(t.Context(), dsn) })
			}
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Fatalf("Open #%d: %v", i, err)
				}
				defer stores[i].Close()
			}
			for i, s := range stores {
				wg.Go(func() {
					if err := s.InsertUsage(t.Context(), recs(i*50, i*50+100)); err != nil {
						t.Errorf("store %d: InsertUsage: %v", i, err)
					}
				})
			}
			wg.Wait()
			want := int64((n-1)*50 + 100)
			for i, s := range stores {
				if v, err := s.SchemaVersion(t.Context()); err != nil || v != store.SchemaLatest {
					t.Errorf("store %d: SchemaVersion() = %d, %v; want %d, nil", i, v, err, store.SchemaLatest)
				}
				if got := summary(t, s, billing.UsageFilter{Tenant: "t1"}); got.Requests != want {
					t.Errorf("store %d: Requests = %d, want %d", i, got.Requests, want)
				}
			}
		})
	}
}

func BenchmarkInsertUsage(b *testing.B) {
	for _, kind := range storetest.Kinds {
		b.Run(kind, func(b *testing.B) {
			s := storetest.Open(b, kind)
			ctx := context.Background()
			const size = 100
			batch := make([]billing.Record, size)
			n := 0
			b.ReportAllocs()
			for b.Loop() {
				for i := range batch {
					batch[i] = rec(0, 1, "k1", "team-a", "alice", t0.Add(time.Duration(n)*time.Millisecond), 1000)
					batch[i].RequestID = fmt.Sprintf("b%09d", n)
					n++
				}
				if err := s.InsertUsage(ctx, batch); err != nil {
					b.Fatalf("InsertUsage: %v", err)
				}
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "records/s")
		})
	}
}
