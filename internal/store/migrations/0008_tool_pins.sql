-- Approved hashes of MCP tools' descriptions and schemas. A pin is
-- install-wide configuration state, not a tenant's data: one row per
-- (MCP server, tool) for every tenant, hence no tenant_id.
CREATE TABLE tool_pins (
	server      TEXT   NOT NULL,
	tool        TEXT   NOT NULL,
	hash        TEXT   NOT NULL,
	approved_by TEXT   NOT NULL DEFAULT '',
	approved_at BIGINT NOT NULL,
	PRIMARY KEY (server, tool)
);
