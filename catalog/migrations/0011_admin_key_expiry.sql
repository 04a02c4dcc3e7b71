-- Admin keys may expire (RFC 3339, like API keys); NULL: never.
ALTER TABLE admin_keys ADD COLUMN expires_at TEXT;
