-- Usage records tied to the response and conversation they were made for
-- (the Responses runtime's model and tool calls), so that cost can be
-- reported per response, per conversation and per tool. Empty for calls
-- made outside a response.

ALTER TABLE usage ADD COLUMN response_id     TEXT NOT NULL DEFAULT '';
ALTER TABLE usage ADD COLUMN conversation_id TEXT NOT NULL DEFAULT '';

CREATE INDEX usage_tenant_response     ON usage (tenant_id, response_id);
CREATE INDEX usage_tenant_conversation ON usage (tenant_id, conversation_id);
