-- Several processes share one catalog (replicas over PostgreSQL): what used to live in one
-- process's memory or data directory lives here.

-- A running sync's worker renews this while it works; a run whose heartbeat is older than the
-- lease was left by a process that died, and another process fails it and queues it again.
ALTER TABLE sync_runs ADD COLUMN heartbeat_at TEXT;

-- Files uploaded into `upload` sources: the store of record, so whichever process claims the
-- source's sync reads them (its data directory holds only a working copy).
CREATE TABLE upload_files (
    source_id TEXT NOT NULL,
    path TEXT NOT NULL,
    content BYTEA NOT NULL,
    sha256 TEXT NOT NULL,
    size BIGINT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (source_id, path)
);

-- Slack and Teams event ids already handled (both platforms retry deliveries), for every replica.
CREATE TABLE bot_events (
    channel TEXT NOT NULL,
    event_id TEXT NOT NULL,
    seen_at TEXT NOT NULL,
    PRIMARY KEY (channel, event_id)
);
CREATE INDEX bot_events_seen ON bot_events (seen_at);
