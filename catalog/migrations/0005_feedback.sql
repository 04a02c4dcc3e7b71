-- Feedback on answers from the chat channels (Slack buttons, Teams feedback loop): one rating per
-- user and answer message, changed by clicking again. Portable on SQLite and PostgreSQL.
CREATE TABLE feedback (
    tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    channel TEXT NOT NULL,
    message_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    rating TEXT NOT NULL CHECK (rating IN ('up', 'down')),
    comment TEXT,
    created_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, channel, message_id, user_id)
);
CREATE INDEX feedback_created ON feedback (tenant_id, created_at);
