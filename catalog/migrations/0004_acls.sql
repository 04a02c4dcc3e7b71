-- Document ACLs: the groups that may see a document ('[]': every member of the tenant), kept in
-- the manifest so a sync can tell an ACL change from a content change.
ALTER TABLE documents ADD COLUMN acl TEXT NOT NULL DEFAULT '[]';

-- API keys bound to a user and groups (the principal's identity for document ACLs).
ALTER TABLE api_keys ADD COLUMN user_id TEXT;
ALTER TABLE api_keys ADD COLUMN groups TEXT NOT NULL DEFAULT '[]';
