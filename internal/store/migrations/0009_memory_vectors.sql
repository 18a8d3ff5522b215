-- Long-term memory, second part: the conversation a memory came from (so
-- that deleting a conversation deletes its memories), and the memories'
-- embedding vectors for similarity search.
--
-- conversation_id is '' for a memory linked to no conversation.
--
-- memory_vectors holds at most one vector per memory: the one of the
-- embedding model configured when the memory was last written. vector is
-- dims little-endian float32s. Every row carries tenant_id and subject,
-- like the memory it belongs to, and every query is scoped by both.
-- BYTEA is PostgreSQL's binary type; SQLite accepts the name and stores
-- the bytes as a BLOB.

ALTER TABLE memories ADD COLUMN conversation_id TEXT NOT NULL DEFAULT '';

CREATE INDEX memories_conversation ON memories (tenant_id, subject, conversation_id);

CREATE TABLE memory_vectors (
	memory_id TEXT    NOT NULL PRIMARY KEY,
	tenant_id TEXT    NOT NULL,
	subject   TEXT    NOT NULL,
	namespace TEXT    NOT NULL,
	model     TEXT    NOT NULL,
	dims      INTEGER NOT NULL,
	vector    BYTEA   NOT NULL
);

CREATE INDEX memory_vectors_owner ON memory_vectors (tenant_id, subject, namespace, model);
