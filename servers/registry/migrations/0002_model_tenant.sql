-- The tenant that owns a model (issue 15): the tenant of the caller that created its
-- first version; '' for a model created without one (the platform's own, e.g. the
-- parser's query-intent model) = shared, visible to every tenant. Names stay global.
-- Versions repeat their model's tenant so that a version read alone (a download by the
-- prediction service) says whose it is.
ALTER TABLE registry_models ADD COLUMN tenant text NOT NULL DEFAULT '';
ALTER TABLE registry_model_versions ADD COLUMN tenant text NOT NULL DEFAULT '';
