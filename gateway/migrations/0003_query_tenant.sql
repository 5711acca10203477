-- The tenant of each asked question and conversation (issue 15): the tenant of the
-- principal that asked; '' for questions asked without one (internal callers) = shared.
-- GetQuery / ListQueries / SubmitFeedback and continuing a conversation are filtered
-- by it. (0002 is the API keys' migration.)
ALTER TABLE gateway_queries ADD COLUMN tenant text NOT NULL DEFAULT '';
ALTER TABLE gateway_conversations ADD COLUMN tenant text NOT NULL DEFAULT '';
CREATE INDEX gateway_queries_tenant_time ON gateway_queries (tenant, create_time DESC, query_id DESC);
