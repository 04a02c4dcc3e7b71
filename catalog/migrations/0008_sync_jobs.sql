-- Sources managed through the admin API: paused, scheduled, and their next scheduled sync.
ALTER TABLE sources ADD COLUMN paused BIGINT NOT NULL DEFAULT 0;
ALTER TABLE sources ADD COLUMN schedule TEXT;
ALTER TABLE sources ADD COLUMN next_sync_at TEXT;
ALTER TABLE sources ADD COLUMN updated_at TEXT;

-- Sync runs double as the job queue: `queued` until a worker claims them, then `running`.
ALTER TABLE sync_runs ADD COLUMN trigger TEXT NOT NULL DEFAULT 'manual';
ALTER TABLE sync_runs ADD COLUMN queued_at TEXT;
ALTER TABLE sync_runs ADD COLUMN acl_changed BIGINT NOT NULL DEFAULT 0;
ALTER TABLE sync_runs ADD COLUMN progress TEXT;

-- Per source at most one running sync and one queued behind it, whichever process asks.
CREATE UNIQUE INDEX sync_runs_one_active ON sync_runs (source_id, status) WHERE status IN ('queued', 'running');
CREATE INDEX sync_runs_status ON sync_runs (status, queued_at);
