-- Web widget keys: public (`pk_…`, shown in the page's script tag), one tenant each, usable only from
-- the origins listed (a JSON array of `scheme://host[:port]`). Revoked keys stay for the audit trail.
CREATE TABLE widget_keys (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    allowed_origins TEXT NOT NULL DEFAULT '[]',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    revoked_at TEXT
);
CREATE INDEX widget_keys_tenant ON widget_keys (tenant_id);
