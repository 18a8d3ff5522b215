package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// ToolPin is the approved hash of one MCP server's tool (see
// mcptool.Hash). Pins are install-wide configuration state, shared by
// every tenant, so they carry no tenant.
type ToolPin struct {
	Server, Tool, Hash string
	// ApprovedBy names who approved the hash ("first-sight" for a pin
	// taken when the tool was first listed).
	ApprovedBy string
	ApprovedAt time.Time
}

// ToolPin returns the pin of server's tool, or ErrNotFound.
func (s *Store) ToolPin(ctx context.Context, server, tool string) (*ToolPin, error) {
	return s.toolPin(ctx, s.r, server, tool)
}

func (s *Store) toolPin(ctx context.Context, db *sql.DB, server, tool string) (*ToolPin, error) {
	p := ToolPin{Server: server, Tool: tool}
	var at int64
	err := db.QueryRowContext(ctx, s.rebind(`SELECT hash, approved_by, approved_at FROM tool_pins
		WHERE server = $1 AND tool = $2`), server, tool).Scan(&p.Hash, &p.ApprovedBy, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("store: tool pin %s/%s: %w", server, tool, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("store: tool pin %s/%s: %w", server, tool, err)
	}
	p.ApprovedAt = fromMicros(at)
	return &p, nil
}

// ToolPins returns every pin, ordered by server and tool.
func (s *Store) ToolPins(ctx context.Context) ([]ToolPin, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT server, tool, hash, approved_by, approved_at FROM tool_pins ORDER BY server, tool`)
	if err != nil {
		return nil, fmt.Errorf("store: tool pins: %w", err)
	}
	defer rows.Close()
	var out []ToolPin
	for rows.Next() {
		var p ToolPin
		var at int64
		if err := rows.Scan(&p.Server, &p.Tool, &p.Hash, &p.ApprovedBy, &at); err != nil {
			return nil, fmt.Errorf("store: tool pins: %w", err)
		}
		p.ApprovedAt = fromMicros(at)
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: tool pins: %w", err)
	}
	return out, nil
}

// PinToolFirst stores p unless server's tool has a pin already, and
// returns the pin in force: the first writer wins, so two gateways that
// list different versions first cannot overwrite each other's pin.
func (s *Store) PinToolFirst(ctx context.Context, p ToolPin) (*ToolPin, error) {
	if p.ApprovedAt.IsZero() {
		p.ApprovedAt = time.Now()
	}
	if _, err := s.w.ExecContext(ctx, s.rebind(`INSERT INTO tool_pins (server, tool, hash, approved_by, approved_at)
		VALUES ($1, $2, $3, $4, $5) ON CONFLICT (server, tool) DO NOTHING`),
		p.Server, p.Tool, p.Hash, p.ApprovedBy, micros(p.ApprovedAt)); err != nil {
		return nil, fmt.Errorf("store: pin tool %s/%s: %w", p.Server, p.Tool, err)
	}
	// From the writer: on SQLite the read pool could lag a moment.
	return s.toolPin(ctx, s.w, p.Server, p.Tool)
}

// ApproveToolPin stores p, replacing the pin of its server's tool.
func (s *Store) ApproveToolPin(ctx context.Context, p ToolPin) error {
	if p.ApprovedAt.IsZero() {
		p.ApprovedAt = time.Now()
	}
	if _, err := s.w.ExecContext(ctx, s.rebind(`INSERT INTO tool_pins (server, tool, hash, approved_by, approved_at)
		VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (server, tool) DO UPDATE SET hash = excluded.hash,
			approved_by = excluded.approved_by, approved_at = excluded.approved_at`),
		p.Server, p.Tool, p.Hash, p.ApprovedBy, micros(p.ApprovedAt)); err != nil {
		return fmt.Errorf("store: approve tool %s/%s: %w", p.Server, p.Tool, err)
	}
	return nil
}

// PinStore is the store as mcptool's PinStore: MCP tool pins that
// survive a restart, so a tool changed while the gateway was down stays
// disabled rather than being pinned afresh. It does not import mcptool
// (the store knows no tools); the server asserts the fit.
type PinStore struct{ S *Store }

// Get returns the pinned hash of server's tool, and false when it has
// none.
func (p PinStore) Get(ctx context.Context, server, tool string) (string, bool, error) {
	pin, err := p.S.ToolPin(ctx, server, tool)
	if errors.Is(err, ErrNotFound) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	return pin.Hash, true, nil
}

// PinFirst pins server's tool to hash on first sight, unless it has a
// pin, and returns the pin in force.
func (p PinStore) PinFirst(ctx context.Context, server, tool, hash string) (string, error) {
	pin, err := p.S.PinToolFirst(ctx, ToolPin{Server: server, Tool: tool, Hash: hash, ApprovedBy: "first-sight"})
	if err != nil {
		return "", err
	}
	return pin.Hash, nil
}

// Approve pins server's tool to hash, approved by by.
func (p PinStore) Approve(ctx context.Context, server, tool, hash, by string) error {
	return p.S.ApproveToolPin(ctx, ToolPin{Server: server, Tool: tool, Hash: hash, ApprovedBy: by})
}
