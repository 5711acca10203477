-- The tenant that owns a connection (issue 15): the tenant of the API key that created
-- it; '' for a connection created without one (the platform's own, e.g. the demo
-- connections) = shared, visible to every tenant. Connection ids stay global.
ALTER TABLE connector_connections ADD COLUMN tenant text NOT NULL DEFAULT '';
CREATE INDEX connector_connections_tenant_idx ON connector_connections (tenant, connection_id);
