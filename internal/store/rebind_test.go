package store

import "testing"

func TestRebindPositional(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{`SELECT 1`, `SELECT 1`},
		{`WHERE a = $1 AND b = $2`, `WHERE a = ? AND b = ?`},
		{`VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)`, `VALUES (?,?,?,?,?,?,?,?,?,?,?)`},
		{`SELECT '$' || x, $1`, `SELECT '$' || x, ?`},
	} {
		if got := rebindPositional(tt.in); got != tt.want {
			t.Errorf("rebindPositional(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	for _, bad := range []string{`WHERE a = $2 AND b = $1`, `WHERE a = $1 OR b = $1`} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("rebindPositional(%q) did not panic, want a panic", bad)
				}
			}()
			rebindPositional(bad)
		}()
	}
}
