-- The stateful runtime: responses, their items, conversations and the
-- stream events of stored responses (for replay).
--
-- Every row carries tenant_id and subject (the key's user, or the key's
-- id when it has none); every query is scoped by both. JSON columns are
-- TEXT; times are unix microseconds; booleans 0/1.

CREATE TABLE responses (
	id                   TEXT    NOT NULL PRIMARY KEY,
	tenant_id            TEXT    NOT NULL,
	subject              TEXT    NOT NULL,
	model                TEXT    NOT NULL DEFAULT '',
	status               TEXT    NOT NULL DEFAULT '',
	created_at           BIGINT  NOT NULL,
	previous_response_id TEXT    NOT NULL DEFAULT '',
	conversation_id      TEXT    NOT NULL DEFAULT '',
	instructions         TEXT    NOT NULL DEFAULT '',
	request              TEXT    NOT NULL DEFAULT '{}',
	output               TEXT    NOT NULL DEFAULT '[]',
	usage                TEXT    NOT NULL DEFAULT '{}',
	error                TEXT    NOT NULL DEFAULT '',
	metadata             TEXT    NOT NULL DEFAULT '{}',
	store                INTEGER NOT NULL DEFAULT 1,
	body                 TEXT    NOT NULL DEFAULT '{}'
);

CREATE INDEX responses_owner ON responses (tenant_id, subject, created_at);

CREATE TABLE conversations (
	id         TEXT   NOT NULL PRIMARY KEY,
	tenant_id  TEXT   NOT NULL,
	subject    TEXT   NOT NULL,
	created_at BIGINT NOT NULL,
	metadata   TEXT   NOT NULL DEFAULT '{}'
);

CREATE INDEX conversations_owner ON conversations (tenant_id, subject, created_at);

-- kind is 'input' or 'output' for a response's own items (response_id
-- set) and 'conversation' for a conversation's items (conversation_id
-- set; response_id names the response that added it, if any). seq orders
-- the items of one response or one conversation.
CREATE TABLE items (
	id              TEXT    NOT NULL,
	tenant_id       TEXT    NOT NULL,
	subject         TEXT    NOT NULL,
	response_id     TEXT    NOT NULL DEFAULT '',
	conversation_id TEXT    NOT NULL DEFAULT '',
	seq             BIGINT  NOT NULL,
	kind            TEXT    NOT NULL,
	type            TEXT    NOT NULL,
	body            TEXT    NOT NULL
);

CREATE UNIQUE INDEX items_response_seq ON items (tenant_id, response_id, kind, seq) WHERE kind <> 'conversation';
CREATE UNIQUE INDEX items_conversation_seq ON items (tenant_id, conversation_id, seq) WHERE kind = 'conversation';
CREATE INDEX items_id ON items (tenant_id, subject, id);

CREATE TABLE response_events (
	tenant_id   TEXT   NOT NULL,
	subject     TEXT   NOT NULL,
	response_id TEXT   NOT NULL,
	seq         BIGINT NOT NULL,
	data        TEXT   NOT NULL,
	PRIMARY KEY (response_id, seq)
);
