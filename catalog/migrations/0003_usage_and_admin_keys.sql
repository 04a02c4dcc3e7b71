-- Usage per tenant, UTC day and user: one row per counter (requests, cache_hits, prompt_tokens,
-- completion_tokens, refused:<limit>), incremented in batches by each gateway replica.
CREATE TABLE usage_daily (
    tenant_id TEXT NOT NULL,
    day TEXT NOT NULL,
    user_id TEXT NOT NULL,
    metric TEXT NOT NULL,
    value BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, day, user_id, metric)
);

-- Administrator keys: global (tenant_id NULL) or scoped to one tenant. Only the SHA-256 is kept.
CREATE TABLE admin_keys (
    id TEXT PRIMARY KEY,
    tenant_id TEXT REFERENCES tenants(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    key_hash TEXT NOT NULL,
    created_at TEXT NOT NULL,
    last_used_at TEXT,
    revoked_at TEXT
);
