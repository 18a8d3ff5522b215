package memory_test

import (
	"strings"
	"testing"

	"github.com/causeway-ai/causeway/internal/memory"
	"github.com/causeway-ai/causeway/internal/store"
	"github.com/causeway-ai/causeway/internal/store/storetest"
)

func TestRecallAndFormat(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		svc := &memory.Service{Store: s}
		alice := store.Owner{Tenant: "t", Subject: "alice"}
		for _, txt := range []string{"Alice's dog is called Biscuit.", "Alice works night shifts\nat the hospital.", "Alice likes jazz."} {
			if _, err := svc.Create(ctx, nil, alice, memory.CreateParams{Text: txt}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := svc.Create(ctx, nil, store.Owner{Tenant: "t", Subject: "bob"}, memory.CreateParams{Text: "Bob's dog is called Rex."}); err != nil {
			t.Fatal(err)
		}
		recs, err := svc.Recall(ctx, nil, alice, "", "what is the name of her dog?", 2)
		if err != nil || len(recs) != 1 || !strings.Contains(recs[0].Text, "Biscuit") {
			t.Fatalf("Recall(dog) = %+v, %v; want alice's dog only", recs, err)
		}
		recs, err = svc.Recall(ctx, nil, alice, "default", "Alice dog hospital jazz", 2)
		if err != nil || len(recs) != 2 {
			t.Fatalf("Recall(k=2) = %+v, %v; want 2", recs, err)
		}
		if recs, err := svc.Recall(ctx, nil, store.Owner{Tenant: "t", Subject: "carol"}, "", "dog", 5); err != nil || len(recs) != 0 {
			t.Errorf("Recall for another subject = %+v, %v; want none", recs, err)
		}

		out := memory.Format(recs)
		if !strings.HasPrefix(out, memory.Marker+" ") || !strings.HasSuffix(out, memory.Marker+" end\n") {
			t.Errorf("Format = %q, want it to start and end with the marker", out)
		}
		lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
		if len(lines) != 4 {
			t.Errorf("Format = %q: %d lines, want marker, 2 memories (one line each), marker", out, len(lines))
		}
		for _, r := range recs {
			if !strings.Contains(out, "- "+strings.Join(strings.Fields(r.Text), " ")+" ("+r.ID+")\n") {
				t.Errorf("Format = %q, missing memory %s on one line", out, r.ID)
			}
		}
		if memory.Format(nil) != "" {
			t.Errorf("Format(nil) = %q, want empty", memory.Format(nil))
		}
	})
}
