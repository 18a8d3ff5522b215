-- Long-term memory: short texts a subject asked Causeway to remember,
-- per (tenant, subject, namespace), found again by full-text search.
--
-- Every row carries tenant_id and subject; every query is scoped by both.
-- metadata and source_item_ids are JSON TEXT; times are unix microseconds.
--
-- The full-text index is not here: SQLite's is an FTS5 virtual table and
-- PostgreSQL's a generated tsvector column with a GIN index, and no one
-- text creates both. The store creates the one its dialect needs, with
-- IF NOT EXISTS, before it first touches memories (memories.go).

CREATE TABLE memories (
	id              TEXT   NOT NULL PRIMARY KEY,
	tenant_id       TEXT   NOT NULL,
	subject         TEXT   NOT NULL,
	namespace       TEXT   NOT NULL,
	text            TEXT   NOT NULL,
	metadata        TEXT   NOT NULL DEFAULT '{}',
	source_item_ids TEXT   NOT NULL DEFAULT '[]',
	created_at      BIGINT NOT NULL,
	updated_at      BIGINT NOT NULL
);

CREATE INDEX memories_owner ON memories (tenant_id, subject, namespace, created_at);
