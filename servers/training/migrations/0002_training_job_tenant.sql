-- The tenant that owns a job (issue 15): the tenant of the caller of CreateTrainingJob;
-- '' for a job the platform created itself (shared). The worker registers the job's
-- model version as this tenant, so the model belongs to it too.
ALTER TABLE training_jobs ADD COLUMN tenant text NOT NULL DEFAULT '';
CREATE INDEX training_jobs_tenant_list ON training_jobs (tenant, create_time DESC, job_id DESC);
