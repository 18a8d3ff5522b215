package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/causeway-ai/causeway/internal/store"
	"github.com/causeway-ai/causeway/internal/store/storetest"
	"github.com/causeway-ai/causeway/internal/tool/mcptool"
)

var _ mcptool.PinStore = store.PinStore{}

func TestToolPins(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		pins := store.PinStore{S: s}

		if h, ok, err := pins.Get(ctx, "kb", "lookup"); err != nil || ok || h != "" {
			t.Fatalf("Get before any pin = %q, %v, %v; want no pin", h, ok, err)
		}
		if _, err := s.ToolPin(ctx, "kb", "lookup"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("ToolPin before any pin: %v, want ErrNotFound", err)
		}

		// First sight pins; a second first sight of another version is
		// held to the first pin rather than replacing it.
		if got, err := pins.PinFirst(ctx, "kb", "lookup", "aaa"); err != nil || got != "aaa" {
			t.Fatalf("PinFirst(aaa) = %q, %v; want aaa", got, err)
		}
		if got, err := pins.PinFirst(ctx, "kb", "lookup", "bbb"); err != nil || got != "aaa" {
			t.Fatalf("PinFirst(bbb) after aaa = %q, %v; want the pin in force, aaa", got, err)
		}
		p, err := s.ToolPin(ctx, "kb", "lookup")
		if err != nil {
			t.Fatal(err)
		}
		if p.Hash != "aaa" || p.ApprovedBy != mcptool.FirstSight || p.ApprovedAt.IsZero() {
			t.Errorf("pin = %+v, want hash aaa approved by %s with a time", p, mcptool.FirstSight)
		}

		// Approval replaces, and records who and when.
		at := time.Date(2026, 11, 28, 10, 0, 0, 123000, time.UTC)
		if err := s.ApproveToolPin(ctx, store.ToolPin{Server: "kb", Tool: "lookup", Hash: "bbb", ApprovedBy: "admin", ApprovedAt: at}); err != nil {
			t.Fatal(err)
		}
		if h, ok, err := pins.Get(ctx, "kb", "lookup"); err != nil || !ok || h != "bbb" {
			t.Fatalf("Get after approval = %q, %v, %v; want bbb", h, ok, err)
		}
		if err := pins.Approve(ctx, "kb", "other", "ccc", "admin"); err != nil {
			t.Fatal(err)
		}
		if err := pins.Approve(ctx, "crm", "find", "ddd", "admin"); err != nil {
			t.Fatal(err)
		}

		all, err := s.ToolPins(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, p := range all {
			got = append(got, p.Server+"/"+p.Tool+"="+p.Hash+" by "+p.ApprovedBy)
		}
		want := []string{"crm/find=ddd by admin", "kb/lookup=bbb by admin", "kb/other=ccc by admin"}
		if len(got) != len(want) {
			t.Fatalf("ToolPins = %v, want %v", got, want)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("ToolPins[%d] = %s, want %s", i, got[i], want[i])
			}
		}
		if !all[1].ApprovedAt.Equal(at) {
			t.Errorf("approved_at = %v, want %v", all[1].ApprovedAt, at)
		}
	})
}

// TestToolPinsFirstSightRace: many gateways pinning at once agree on one
// pin.
func TestToolPinsFirstSightRace(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s *store.Store) {
		pins := store.PinStore{S: s}
		const n = 8
		got := make(chan string, n)
		errs := make(chan error, n)
		for i := range n {
			go func() {
				h, err := pins.PinFirst(context.WithoutCancel(t.Context()), "kb", "lookup", string(rune('a'+i)))
				got <- h
				errs <- err
			}()
		}
		seen := map[string]bool{}
		for range n {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
			seen[<-got] = true
		}
		if len(seen) != 1 {
			t.Errorf("concurrent first sights returned pins %v, want one", seen)
		}
	})
}
