-- Training jobs of record. The arq queue only carries job ids; this table is the truth,
-- so a job survives Redis being flushed and workers being killed.
CREATE TABLE training_jobs (
    job_id        text PRIMARY KEY,
    request_id    text UNIQUE,
    model_name    text NOT NULL,
    spec          jsonb NOT NULL,
    state         text NOT NULL CHECK (state IN ('QUEUED', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLING', 'CANCELLED')),
    fraction      double precision NOT NULL DEFAULT 0,
    stage         text NOT NULL DEFAULT '',
    message       text NOT NULL DEFAULT '',
    metrics       jsonb NOT NULL DEFAULT '{}',
    attempts      integer NOT NULL DEFAULT 0,
    max_attempts  integer NOT NULL,
    model_version bigint,
    error_code    integer,
    error_message text,
    worker_id     text,
    heartbeat_at  timestamptz,
    create_time   timestamptz NOT NULL DEFAULT now(),
    start_time    timestamptz,
    end_time      timestamptz,
    update_time   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX training_jobs_list ON training_jobs (create_time DESC, job_id DESC);
CREATE INDEX training_jobs_active ON training_jobs (state, heartbeat_at) WHERE state IN ('QUEUED', 'RUNNING', 'CANCELLING');

-- Every change wakes the watchers (WatchTrainingJob) of that job, in any replica.
CREATE FUNCTION training_jobs_notify() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('chatdb_training_jobs', NEW.job_id);
    RETURN NEW;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER training_jobs_changed AFTER INSERT OR UPDATE ON training_jobs
    FOR EACH ROW EXECUTE FUNCTION training_jobs_notify();
