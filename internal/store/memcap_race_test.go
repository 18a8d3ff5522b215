package store_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/causeway-ai/causeway/internal/store"
	"github.com/causeway-ai/causeway/internal/store/storetest"
)

// Concurrent creates must not go past Cap.
func TestMemoryCapConcurrent(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		o := store.Owner{Tenant: "t1", Subject: "alice"}
		const cap, n = 2, 8
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = s.CreateMemory(ctx, o, &store.Memory{ID: fmt.Sprintf("mem_c%d", i), Namespace: "default", Text: "fact", Cap: cap})
			}()
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case !errors.Is(err, store.ErrLimit):
				t.Logf("err: %v", err)
			}
		}
		ms, _, err := s.ListMemories(ctx, o, "default", store.Page{})
		if err != nil {
			t.Logf("list: %v", err)
		}
		t.Logf("created %d, listed %d", ok, len(ms))
		if ok > cap {
			t.Errorf("%d concurrent creates succeeded; cap is %d", ok, cap)
		}
	})
}
