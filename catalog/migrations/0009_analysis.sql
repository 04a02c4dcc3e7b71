-- What a document was indexed with (chunking, BM25 analysis, dense model): a sync re-indexes a
-- document whose content is unchanged when this differs. Rows from before it existed are ''.
ALTER TABLE documents ADD COLUMN analysis TEXT NOT NULL DEFAULT '';
