-- Virtual keys and the usage ledger.
--
-- One text for SQLite and PostgreSQL: TEXT, INTEGER and BIGINT only;
-- times are unix microseconds, durations microseconds, booleans 0/1,
-- lists JSON text.

CREATE TABLE keys (
	id              TEXT    NOT NULL PRIMARY KEY,
	tenant_id       TEXT    NOT NULL,
	name            TEXT    NOT NULL,
	team            TEXT    NOT NULL DEFAULT '',
	user_name       TEXT    NOT NULL DEFAULT '',
	hash            TEXT    NOT NULL UNIQUE,
	prefix          TEXT    NOT NULL DEFAULT '',
	models          TEXT    NOT NULL DEFAULT '[]',
	budget_nano_usd BIGINT  NOT NULL DEFAULT 0,
	rpm             INTEGER NOT NULL DEFAULT 0,
	tpm             INTEGER NOT NULL DEFAULT 0,
	created_at      BIGINT  NOT NULL,
	revoked_at      BIGINT
);

CREATE INDEX keys_tenant_created ON keys (tenant_id, created_at);

-- One row per upstream attempt. The primary key makes writes idempotent:
-- the ledger inserts with ON CONFLICT DO NOTHING.
CREATE TABLE usage (
	request_id         TEXT    NOT NULL,
	attempt            INTEGER NOT NULL,
	tenant_id          TEXT    NOT NULL,
	key_id             TEXT    NOT NULL,
	team               TEXT    NOT NULL DEFAULT '',
	user_name          TEXT    NOT NULL DEFAULT '',
	endpoint           TEXT    NOT NULL DEFAULT '',
	alias              TEXT    NOT NULL DEFAULT '',
	provider           TEXT    NOT NULL DEFAULT '',
	upstream_model     TEXT    NOT NULL DEFAULT '',
	input_tokens       BIGINT  NOT NULL DEFAULT 0,
	output_tokens      BIGINT  NOT NULL DEFAULT 0,
	cached_tokens      BIGINT  NOT NULL DEFAULT 0,
	cache_write_tokens BIGINT  NOT NULL DEFAULT 0,
	reasoning_tokens   BIGINT  NOT NULL DEFAULT 0,
	cost_nano_usd      BIGINT  NOT NULL DEFAULT 0,
	status             TEXT    NOT NULL DEFAULT '',
	http_status        INTEGER NOT NULL DEFAULT 0,
	error_kind         TEXT    NOT NULL DEFAULT '',
	streamed           INTEGER NOT NULL DEFAULT 0,
	started_at         BIGINT  NOT NULL,
	latency_us         BIGINT  NOT NULL DEFAULT 0,
	ttft_us            BIGINT  NOT NULL DEFAULT 0,
	PRIMARY KEY (request_id, attempt)
);

CREATE INDEX usage_tenant_key_started  ON usage (tenant_id, key_id, started_at);
CREATE INDEX usage_tenant_team_started ON usage (tenant_id, team, started_at);
CREATE INDEX usage_tenant_started      ON usage (tenant_id, started_at);
