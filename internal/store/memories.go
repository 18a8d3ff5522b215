package store

import (
	"context"
	"database/sql"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"strings"
	"sync"
	"time"
	"unicode"
)

// Memory is one long-term memory of a subject: a short text, found again
// by full-text search within its namespace.
type Memory struct {
	ID        string
	Namespace string
	Text      string
	// Metadata is free key/value pairs the caller attached.
	Metadata map[string]string
	// SourceItemIDs name the response or conversation items the memory
	// came from, if the caller said.
	SourceItemIDs []string
	// ConversationID is the conversation the memory came from ("" for
	// none): deleting that conversation deletes the memory.
	ConversationID string
	CreatedAt      time.Time
	UpdatedAt      time.Time
	// Cap, when positive on CreateMemory, is how many memories the owner
	// may keep in the namespace: one more is ErrLimit. Not stored.
	Cap int
	// FromResponse, when set on CreateMemory, is the response the memory
	// was learnt from: it is stored only if that response still exists
	// (an erasure or a deletion meanwhile wins). Not stored.
	FromResponse string
	// Vector, when set on CreateMemory or UpdateMemory, is stored as the
	// memory's embedding in the same transaction. UpdateMemory deletes
	// the vector a memory had either way (its text may have changed).
	// Reads leave it nil.
	Vector *Vector
}

// Vector is an embedding of a memory's text by a model.
type Vector struct {
	Model  string
	Values []float32
}

// MemoryVector is a stored vector with the memory it belongs to.
type MemoryVector struct {
	MemoryID string
	Values   []float32
}

// encodeVector is v as little-endian float32s.
func encodeVector(v []float32) []byte {
	b := make([]byte, 4*len(v))
	for i, f := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(f))
	}
	return b
}

func decodeVector(b []byte) ([]float32, error) {
	if len(b)%4 != 0 {
		return nil, fmt.Errorf("vector of %d bytes is not float32s", len(b))
	}
	v := make([]float32, len(b)/4)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return v, nil
}

// MemoryHit is a memory found by SearchMemories with its relevance
// (higher is better; comparable only within one search).
type MemoryHit struct {
	Memory Memory
	Score  float64
}

// Erased counts what EraseSubject deleted.
type Erased struct {
	Responses     int64
	Conversations int64
	Items         int64
	Events        int64
	Memories      int64
	// Vectors counts the memories' embedding vectors.
	Vectors int64
}

// The full-text index of memories cannot be created by a migration: the
// migrations are one SQL text for both dialects (migrate.go), and SQLite's
// index is an FTS5 virtual table while PostgreSQL's is a generated
// tsvector column with a GIN index. So the store creates the one its
// dialect needs the first time a Store touches memories, with statements
// that are idempotent and safe to race with another process.
//
//   - SQLite: memories_fts(text, id UNINDEXED) with the porter stemmer,
//     ranked by bm25. Its rowid is a hash of the memory's id (memRowID)
//     rather than the memories table's rowid, which VACUUM may renumber;
//     that makes deleting a memory's entry an indexed lookup. The store
//     writes it in the same transaction as the memories row, not with
//     triggers, so that the same Go code keeps both dialects in step.
//   - PostgreSQL: memories.tsv, to_tsvector('english', text) generated
//     and stored, with a GIN index, ranked by ts_rank.
var memoryIndexes sync.Map // *Store → *memoryIndex

type memoryIndex struct {
	mu    sync.Mutex
	ready bool
}

// memoryIndexLockID serialises creating PostgreSQL's memory index
// between processes ("cwmemfts" in ASCII).
const memoryIndexLockID int64 = 0x63776d656d667473

func (s *Store) memoryIndexReady(ctx context.Context) error {
	v, _ := memoryIndexes.LoadOrStore(s, &memoryIndex{})
	mi := v.(*memoryIndex)
	mi.mu.Lock()
	defer mi.mu.Unlock()
	if mi.ready {
		return nil
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: memory index: %w", err)
	}
	defer tx.Rollback()
	switch s.dialect {
	case DialectPostgres:
		// ALTER TABLE takes an exclusive lock even when it has nothing to
		// do, so look first.
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM pg_indexes
			WHERE schemaname = current_schema() AND indexname = 'memories_tsv'`).Scan(&n); err != nil {
			return fmt.Errorf("store: memory index: %w", err)
		}
		if n > 0 {
			break
		}
		stmts := []string{
			`SELECT pg_advisory_xact_lock(` + fmt.Sprint(memoryIndexLockID) + `)`,
			`ALTER TABLE memories ADD COLUMN IF NOT EXISTS tsv tsvector
				GENERATED ALWAYS AS (to_tsvector('english', text)) STORED`,
			`CREATE INDEX IF NOT EXISTS memories_tsv ON memories USING GIN (tsv)`,
		}
		for _, q := range stmts {
			if _, err := tx.ExecContext(ctx, q); err != nil {
				return fmt.Errorf("store: memory index: %w", err)
			}
		}
	default:
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM sqlite_master WHERE name = 'memories_fts'`).Scan(&n); err != nil {
			return fmt.Errorf("store: memory index: %w", err)
		}
		if n == 0 {
			if _, err := tx.ExecContext(ctx, `CREATE VIRTUAL TABLE IF NOT EXISTS memories_fts
				USING fts5(text, id UNINDEXED, tokenize = 'porter unicode61')`); err != nil {
				return fmt.Errorf("store: memory index: %w", err)
			}
			// Memories written before the index existed (by an older
			// build) are indexed now.
			rows, err := tx.QueryContext(ctx, `SELECT id, text FROM memories`)
			if err != nil {
				return fmt.Errorf("store: memory index: %w", err)
			}
			var backlog []Memory
			for rows.Next() {
				var m Memory
				if err := rows.Scan(&m.ID, &m.Text); err != nil {
					rows.Close()
					return fmt.Errorf("store: memory index: %w", err)
				}
				backlog = append(backlog, m)
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return fmt.Errorf("store: memory index: %w", err)
			}
			for i := range backlog {
				if err := s.indexMemory(ctx, tx, &backlog[i]); err != nil {
					return fmt.Errorf("store: memory index: %w", err)
				}
			}
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: memory index: %w", err)
	}
	mi.ready = true
	return nil
}

// memRowID is a memory's rowid in SQLite's memories_fts: 63 bits of a
// hash of its id. Two ids colliding would make the second insert fail
// (the rowid is unique), not mix up two memories; with random ids that
// is about one in 10^7 at a million memories.
func memRowID(id string) int64 {
	h := fnv.New64a()
	h.Write([]byte(id))
	return int64(h.Sum64() & math.MaxInt64)
}

// indexMemory adds m to SQLite's full-text index (PostgreSQL's is a
// generated column and needs nothing).
func (s *Store) indexMemory(ctx context.Context, tx *sql.Tx, m *Memory) error {
	if s.dialect != DialectSQLite {
		return nil
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO memories_fts (rowid, text, id) VALUES (?, ?, ?)`, memRowID(m.ID), m.Text, m.ID)
	return err
}

// unindexMemories removes from SQLite's full-text index the memories the
// query (selecting ids) names.
func (s *Store) unindexMemories(ctx context.Context, tx *sql.Tx, idQuery string, args ...any) error {
	if s.dialect != DialectSQLite {
		return nil
	}
	rows, err := tx.QueryContext(ctx, s.rebind(idQuery), args...)
	if err != nil {
		return err
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return err
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, id := range ids {
		if _, err := tx.ExecContext(ctx, `DELETE FROM memories_fts WHERE rowid = ?`, memRowID(id)); err != nil {
			return err
		}
	}
	return nil
}

func encodeMemoryJSON(m *Memory) (meta, sources string, err error) {
	md := m.Metadata
	if md == nil {
		md = map[string]string{}
	}
	src := m.SourceItemIDs
	if src == nil {
		src = []string{}
	}
	b1, err := json.Marshal(md)
	if err != nil {
		return "", "", err
	}
	b2, err := json.Marshal(src)
	if err != nil {
		return "", "", err
	}
	return string(b1), string(b2), nil
}

// CreateMemory stores a new memory of the owner. CreatedAt and UpdatedAt
// are set to now when zero.
func (s *Store) CreateMemory(ctx context.Context, o Owner, m *Memory) error {
	if err := s.memoryIndexReady(ctx); err != nil {
		return err
	}
	if m.CreatedAt.IsZero() {
		m.CreatedAt = time.Now().UTC().Truncate(time.Microsecond)
	}
	if m.UpdatedAt.IsZero() {
		m.UpdatedAt = m.CreatedAt
	}
	meta, src, err := encodeMemoryJSON(m)
	if err != nil {
		return fmt.Errorf("store: create memory: %w", err)
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: create memory: %w", err)
	}
	defer tx.Rollback()
	// What the memory hangs on must still be there when it is written:
	// the no-op updates check it and, on PostgreSQL, lock the row until
	// the transaction ends, so a delete cannot slip in between (SQLite's
	// single writer serialises them already).
	for _, dep := range []struct{ table, id string }{{"conversations", m.ConversationID}, {"responses", m.FromResponse}} {
		if dep.id == "" {
			continue
		}
		res, err := tx.ExecContext(ctx, s.rebind(`UPDATE `+dep.table+` SET id = id WHERE tenant_id = $1 AND subject = $2 AND id = $3`),
			o.Tenant, o.Subject, dep.id)
		if err != nil {
			return fmt.Errorf("store: create memory %s: %w", m.ID, err)
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			if err == nil {
				err = ErrNotFound
			}
			return fmt.Errorf("store: create memory %s: %s %s: %w", m.ID, dep.table, dep.id, err)
		}
	}
	if m.Cap > 0 {
		if s.dialect == DialectPostgres {
			// Count and insert under a lock of the owner's namespace:
			// concurrent creates would otherwise all count below the cap
			// (SQLite's single writer serialises them already).
			if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtext($1))`,
				"memories/"+o.Tenant+"/"+o.Subject+"/"+m.Namespace); err != nil {
				return fmt.Errorf("store: create memory %s: %w", m.ID, err)
			}
		}
		var n int
		if err := tx.QueryRowContext(ctx, s.rebind(`SELECT COUNT(*) FROM memories WHERE tenant_id = $1 AND subject = $2 AND namespace = $3`),
			o.Tenant, o.Subject, m.Namespace).Scan(&n); err != nil {
			return fmt.Errorf("store: create memory %s: %w", m.ID, err)
		}
		if n >= m.Cap {
			return fmt.Errorf("store: create memory %s: %d memories in namespace %q: %w", m.ID, n, m.Namespace, ErrLimit)
		}
	}
	if _, err := tx.ExecContext(ctx, s.rebind(`INSERT INTO memories (id, tenant_id, subject, namespace, text,
		metadata, source_item_ids, created_at, updated_at, conversation_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`),
		m.ID, o.Tenant, o.Subject, m.Namespace, m.Text, meta, src, micros(m.CreatedAt), micros(m.UpdatedAt), m.ConversationID); err != nil {
		return fmt.Errorf("store: create memory %s: %w", m.ID, err)
	}
	if err := s.indexMemory(ctx, tx, m); err != nil {
		return fmt.Errorf("store: create memory %s: index: %w", m.ID, err)
	}
	if err := s.putVector(ctx, tx, o, m); err != nil {
		return fmt.Errorf("store: create memory %s: vector: %w", m.ID, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: create memory %s: %w", m.ID, err)
	}
	return nil
}

const memoryColumns = `id, namespace, text, metadata, source_item_ids, created_at, updated_at, conversation_id`

// putVector stores m.Vector, if set, as the memory's vector.
func (s *Store) putVector(ctx context.Context, tx *sql.Tx, o Owner, m *Memory) error {
	if m.Vector == nil || len(m.Vector.Values) == 0 {
		return nil
	}
	_, err := tx.ExecContext(ctx, s.rebind(`INSERT INTO memory_vectors (memory_id, tenant_id, subject, namespace, model, dims, vector)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`),
		m.ID, o.Tenant, o.Subject, m.Namespace, m.Vector.Model, len(m.Vector.Values), encodeVector(m.Vector.Values))
	return err
}

func scanMemory(sc scanner, extra ...any) (*Memory, error) {
	var (
		m                Memory
		meta, src        string
		created, updated int64
	)
	dest := append([]any{&m.ID, &m.Namespace, &m.Text, &meta, &src, &created, &updated, &m.ConversationID}, extra...)
	if err := sc.Scan(dest...); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(meta), &m.Metadata); err != nil {
		return nil, fmt.Errorf("memory %s metadata: %w", m.ID, err)
	}
	if err := json.Unmarshal([]byte(src), &m.SourceItemIDs); err != nil {
		return nil, fmt.Errorf("memory %s source_item_ids: %w", m.ID, err)
	}
	m.CreatedAt, m.UpdatedAt = fromMicros(created), fromMicros(updated)
	return &m, nil
}

// GetMemory returns the owner's memory.
func (s *Store) GetMemory(ctx context.Context, o Owner, id string) (*Memory, error) {
	row := s.r.QueryRowContext(ctx, s.rebind(`SELECT `+memoryColumns+` FROM memories
		WHERE tenant_id = $1 AND subject = $2 AND id = $3`), o.Tenant, o.Subject, id)
	m, err := scanMemory(row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("store: get memory %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("store: get memory %s: %w", id, err)
	}
	return m, nil
}

// UpdateMemory replaces the text, metadata and source items of the
// owner's memory m.ID, and sets its UpdatedAt to now (or to m.UpdatedAt
// when that is set).
func (s *Store) UpdateMemory(ctx context.Context, o Owner, m *Memory) error {
	if err := s.memoryIndexReady(ctx); err != nil {
		return err
	}
	if m.UpdatedAt.IsZero() {
		m.UpdatedAt = time.Now().UTC().Truncate(time.Microsecond)
	}
	meta, src, err := encodeMemoryJSON(m)
	if err != nil {
		return fmt.Errorf("store: update memory: %w", err)
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: update memory %s: %w", m.ID, err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, s.rebind(`UPDATE memories SET text = $1, metadata = $2, source_item_ids = $3, updated_at = $4
		WHERE tenant_id = $5 AND subject = $6 AND id = $7`),
		m.Text, meta, src, micros(m.UpdatedAt), o.Tenant, o.Subject, m.ID)
	if err != nil {
		return fmt.Errorf("store: update memory %s: %w", m.ID, err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		if err == nil {
			err = ErrNotFound
		}
		return fmt.Errorf("store: update memory %s: %w", m.ID, err)
	}
	if s.dialect == DialectSQLite {
		if _, err := tx.ExecContext(ctx, `DELETE FROM memories_fts WHERE rowid = ?`, memRowID(m.ID)); err != nil {
			return fmt.Errorf("store: update memory %s: index: %w", m.ID, err)
		}
		if err := s.indexMemory(ctx, tx, m); err != nil {
			return fmt.Errorf("store: update memory %s: index: %w", m.ID, err)
		}
	}
	if _, err := tx.ExecContext(ctx, s.rebind(`DELETE FROM memory_vectors WHERE tenant_id = $1 AND subject = $2 AND memory_id = $3`),
		o.Tenant, o.Subject, m.ID); err != nil {
		return fmt.Errorf("store: update memory %s: vector: %w", m.ID, err)
	}
	// The namespace is the stored memory's, not whatever m says.
	if err := tx.QueryRowContext(ctx, s.rebind(`SELECT namespace FROM memories WHERE tenant_id = $1 AND subject = $2 AND id = $3`),
		o.Tenant, o.Subject, m.ID).Scan(&m.Namespace); err != nil {
		return fmt.Errorf("store: update memory %s: %w", m.ID, err)
	}
	if err := s.putVector(ctx, tx, o, m); err != nil {
		return fmt.Errorf("store: update memory %s: vector: %w", m.ID, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: update memory %s: %w", m.ID, err)
	}
	return nil
}

// DeleteMemory deletes the owner's memory.
func (s *Store) DeleteMemory(ctx context.Context, o Owner, id string) error {
	if err := s.memoryIndexReady(ctx); err != nil {
		return err
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: delete memory %s: %w", id, err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, s.rebind(`DELETE FROM memories WHERE tenant_id = $1 AND subject = $2 AND id = $3`),
		o.Tenant, o.Subject, id)
	if err != nil {
		return fmt.Errorf("store: delete memory %s: %w", id, err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		if err == nil {
			err = ErrNotFound
		}
		return fmt.Errorf("store: delete memory %s: %w", id, err)
	}
	if s.dialect == DialectSQLite {
		if _, err := tx.ExecContext(ctx, `DELETE FROM memories_fts WHERE rowid = ?`, memRowID(id)); err != nil {
			return fmt.Errorf("store: delete memory %s: index: %w", id, err)
		}
	}
	if _, err := tx.ExecContext(ctx, s.rebind(`DELETE FROM memory_vectors WHERE tenant_id = $1 AND subject = $2 AND memory_id = $3`),
		o.Tenant, o.Subject, id); err != nil {
		return fmt.Errorf("store: delete memory %s: vector: %w", id, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: delete memory %s: %w", id, err)
	}
	return nil
}

// DeleteMemories deletes all the owner's memories in a namespace and
// returns how many there were.
func (s *Store) DeleteMemories(ctx context.Context, o Owner, namespace string) (int64, error) {
	if err := s.memoryIndexReady(ctx); err != nil {
		return 0, err
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("store: delete memories: %w", err)
	}
	defer tx.Rollback()
	if err := s.unindexMemories(ctx, tx, `SELECT id FROM memories WHERE tenant_id = $1 AND subject = $2 AND namespace = $3`,
		o.Tenant, o.Subject, namespace); err != nil {
		return 0, fmt.Errorf("store: delete memories: index: %w", err)
	}
	res, err := tx.ExecContext(ctx, s.rebind(`DELETE FROM memories WHERE tenant_id = $1 AND subject = $2 AND namespace = $3`),
		o.Tenant, o.Subject, namespace)
	if err != nil {
		return 0, fmt.Errorf("store: delete memories: %w", err)
	}
	if _, err := tx.ExecContext(ctx, s.rebind(`DELETE FROM memory_vectors WHERE tenant_id = $1 AND subject = $2 AND namespace = $3`),
		o.Tenant, o.Subject, namespace); err != nil {
		return 0, fmt.Errorf("store: delete memories: vectors: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("store: delete memories: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("store: delete memories: %w", err)
	}
	return n, nil
}

// ListMemories pages through the owner's memories in a namespace, oldest
// first or, with p.Desc, newest first. p.After is a memory id. hasMore
// says whether more follow the page.
func (s *Store) ListMemories(ctx context.Context, o Owner, namespace string, p Page) (ms []Memory, hasMore bool, err error) {
	w := where{}
	w.add("tenant_id =", o.Tenant)
	w.add("subject =", o.Subject)
	w.add("namespace =", namespace)
	cmp, order := ">", " ORDER BY created_at, id"
	if p.Desc {
		cmp, order = "<", " ORDER BY created_at DESC, id DESC"
	}
	if p.After != "" {
		var created int64
		err := s.r.QueryRowContext(ctx, s.rebind(`SELECT created_at FROM memories
			WHERE tenant_id = $1 AND subject = $2 AND namespace = $3 AND id = $4`),
			o.Tenant, o.Subject, namespace, p.After).Scan(&created)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, false, fmt.Errorf("store: list memories: after %s: %w", p.After, ErrNotFound)
		}
		if err != nil {
			return nil, false, fmt.Errorf("store: list memories: %w", err)
		}
		w.args = append(w.args, created, created, p.After)
		n := len(w.args)
		w.conds = append(w.conds, fmt.Sprintf("(created_at %s $%d OR (created_at = $%d AND id %s $%d))", cmp, n-2, n-1, cmp, n))
	}
	q := `SELECT ` + memoryColumns + ` FROM memories` + w.String() + order
	if p.Limit > 0 {
		q += fmt.Sprintf(" LIMIT %d", p.Limit+1)
	}
	rows, err := s.r.QueryContext(ctx, s.rebind(q), w.args...)
	if err != nil {
		return nil, false, fmt.Errorf("store: list memories: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		m, err := scanMemory(rows)
		if err != nil {
			return nil, false, fmt.Errorf("store: list memories: %w", err)
		}
		ms = append(ms, *m)
	}
	if err := rows.Err(); err != nil {
		return nil, false, fmt.Errorf("store: list memories: %w", err)
	}
	if p.Limit > 0 && len(ms) > p.Limit {
		ms, hasMore = ms[:p.Limit], true
	}
	return ms, hasMore, nil
}

// maxSearchTerms bounds the words of a query that are searched for.
const maxSearchTerms = 64

// stopWords are left out of queries: they carry no meaning to rank by
// (PostgreSQL's English configuration drops them anyway). I, me and my
// are not among them: memories are mostly a user's first-person
// statements, and "my sister" against "my friend's sister" is what tells
// them apart (bench/memory: recall@5 on SQLite 36.5% without them, 45.5%
// with). PostgreSQL's configuration still drops them there.
var stopWords = map[string]bool{}

func init() {
	for _, w := range strings.Fields(`a an and are as at be been but by can could did do does for from had has have
		he her hers him his how if in into is it its no not of on or our she so than that the their them
		then there these they this to was we were what when where which who whom why will with would you your yours`) {
		stopWords[w] = true
	}
}

// SearchTerms splits a free-text query into the lower-cased words it
// searches for: letters and digits only, stop words and repeats left out.
func SearchTerms(query string) []string {
	var terms []string
	seen := map[string]bool{}
	for _, w := range strings.FieldsFunc(strings.ToLower(query), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsNumber(r)
	}) {
		if stopWords[w] || seen[w] {
			continue
		}
		seen[w] = true
		terms = append(terms, w)
		if len(terms) == maxSearchTerms {
			break
		}
	}
	return terms
}

// SearchMemories returns the owner's memories in a namespace that share
// words with the query, most relevant first, at most limit of them. A
// memory matches when it has any of the query's words (after stemming);
// ones with more, and rarer, words rank higher. A query with no words to
// search for matches nothing.
func (s *Store) SearchMemories(ctx context.Context, o Owner, namespace, query string, limit int) ([]MemoryHit, error) {
	if err := s.memoryIndexReady(ctx); err != nil {
		return nil, err
	}
	terms := SearchTerms(query)
	if len(terms) == 0 || limit <= 0 {
		return nil, nil
	}
	var (
		q    string
		args []any
	)
	switch s.dialect {
	case DialectPostgres:
		// Terms are letters and digits only, so joining them with | is
		// a well-formed tsquery.
		q = `SELECT ` + memoryColumns + `, ts_rank(tsv, q) AS score
			FROM memories, to_tsquery('english', $1) q
			WHERE tenant_id = $2 AND subject = $3 AND namespace = $4 AND tsv @@ q
			ORDER BY score DESC, created_at DESC, id LIMIT $5`
		args = []any{strings.Join(terms, " | "), o.Tenant, o.Subject, namespace, limit}
	default:
		// Each term is quoted, so FTS5 reads it as a string, never as
		// query syntax (AND, NEAR, column filters).
		quoted := make([]string, len(terms))
		for i, t := range terms {
			quoted[i] = `"` + t + `"`
		}
		q = `SELECT m.id, m.namespace, m.text, m.metadata, m.source_item_ids, m.created_at, m.updated_at,
				m.conversation_id, -bm25(memories_fts) AS score
			FROM memories_fts JOIN memories m ON m.id = memories_fts.id
			WHERE memories_fts MATCH ? AND m.tenant_id = ? AND m.subject = ? AND m.namespace = ?
			ORDER BY score DESC, m.created_at DESC, m.id LIMIT ?`
		args = []any{strings.Join(quoted, " OR "), o.Tenant, o.Subject, namespace, limit}
	}
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("store: search memories: %w", err)
	}
	defer rows.Close()
	var hits []MemoryHit
	for rows.Next() {
		var score float64
		m, err := scanMemory(rows, &score)
		if err != nil {
			return nil, fmt.Errorf("store: search memories: %w", err)
		}
		hits = append(hits, MemoryHit{Memory: *m, Score: score})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: search memories: %w", err)
	}
	return hits, nil
}

// EraseSubject deletes everything Causeway keeps for one subject of a
// tenant, in one transaction: responses, conversations, their items,
// stored stream events, memories and their vectors. It returns how many rows of each it
// deleted.
func (s *Store) EraseSubject(ctx context.Context, o Owner) (Erased, error) {
	var e Erased
	if err := s.memoryIndexReady(ctx); err != nil {
		return e, err
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return e, fmt.Errorf("store: erase: %w", err)
	}
	defer tx.Rollback()
	if err := s.unindexMemories(ctx, tx, `SELECT id FROM memories WHERE tenant_id = $1 AND subject = $2`,
		o.Tenant, o.Subject); err != nil {
		return e, fmt.Errorf("store: erase: memory index: %w", err)
	}
	for _, d := range []struct {
		table string
		n     *int64
	}{
		{"response_events", &e.Events},
		{"items", &e.Items},
		{"responses", &e.Responses},
		{"conversations", &e.Conversations},
		{"memories", &e.Memories},
		{"memory_vectors", &e.Vectors},
	} {
		res, err := tx.ExecContext(ctx, s.rebind(`DELETE FROM `+d.table+` WHERE tenant_id = $1 AND subject = $2`),
			o.Tenant, o.Subject)
		if err != nil {
			return Erased{}, fmt.Errorf("store: erase %s: %w", d.table, err)
		}
		if *d.n, err = res.RowsAffected(); err != nil {
			return Erased{}, fmt.Errorf("store: erase %s: %w", d.table, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return Erased{}, fmt.Errorf("store: erase: %w", err)
	}
	return e, nil
}

// MemoryVectors returns the vectors of the owner's memories in a
// namespace that the model made with dims dimensions; vectors of another
// model or size are left out.
func (s *Store) MemoryVectors(ctx context.Context, o Owner, namespace, model string, dims int) ([]MemoryVector, error) {
	rows, err := s.r.QueryContext(ctx, s.rebind(`SELECT memory_id, vector FROM memory_vectors
		WHERE tenant_id = $1 AND subject = $2 AND namespace = $3 AND model = $4 AND dims = $5`),
		o.Tenant, o.Subject, namespace, model, dims)
	if err != nil {
		return nil, fmt.Errorf("store: memory vectors: %w", err)
	}
	defer rows.Close()
	var out []MemoryVector
	for rows.Next() {
		var (
			mv MemoryVector
			b  []byte
		)
		if err := rows.Scan(&mv.MemoryID, &b); err != nil {
			return nil, fmt.Errorf("store: memory vectors: %w", err)
		}
		if mv.Values, err = decodeVector(b); err != nil {
			return nil, fmt.Errorf("store: memory vectors: %s: %w", mv.MemoryID, err)
		}
		out = append(out, mv)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: memory vectors: %w", err)
	}
	return out, nil
}

// GetMemories returns the owner's memories with the given ids, in the
// order of ids; ids that are not the owner's memories are left out.
func (s *Store) GetMemories(ctx context.Context, o Owner, ids []string) ([]Memory, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	args := []any{o.Tenant, o.Subject}
	ph := make([]string, len(ids))
	for i, id := range ids {
		args = append(args, id)
		ph[i] = fmt.Sprintf("$%d", i+3)
	}
	rows, err := s.r.QueryContext(ctx, s.rebind(`SELECT `+memoryColumns+` FROM memories
		WHERE tenant_id = $1 AND subject = $2 AND id IN (`+strings.Join(ph, ", ")+`)`), args...)
	if err != nil {
		return nil, fmt.Errorf("store: get memories: %w", err)
	}
	defer rows.Close()
	byID := map[string]*Memory{}
	for rows.Next() {
		m, err := scanMemory(rows)
		if err != nil {
			return nil, fmt.Errorf("store: get memories: %w", err)
		}
		byID[m.ID] = m
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: get memories: %w", err)
	}
	out := make([]Memory, 0, len(byID))
	for _, id := range ids {
		if m := byID[id]; m != nil {
			out = append(out, *m)
		}
	}
	return out, nil
}

// MemoryWithText returns the owner's memory in a namespace whose text is
// exactly text, or ErrNotFound.
func (s *Store) MemoryWithText(ctx context.Context, o Owner, namespace, text string) (*Memory, error) {
	row := s.r.QueryRowContext(ctx, s.rebind(`SELECT `+memoryColumns+` FROM memories
		WHERE tenant_id = $1 AND subject = $2 AND namespace = $3 AND text = $4 ORDER BY created_at, id LIMIT 1`),
		o.Tenant, o.Subject, namespace, text)
	m, err := scanMemory(row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("store: memory with text: %w", ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("store: memory with text: %w", err)
	}
	return m, nil
}
