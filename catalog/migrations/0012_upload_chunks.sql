-- Uploaded files are stored in parts of at most 1 MiB, so neither storing nor checking out a file
-- holds more than one part in memory (`upload_files.content` stays empty for them; files stored
-- before this migration keep their content there and have no parts).
CREATE TABLE upload_file_parts (
    source_id TEXT NOT NULL,
    path TEXT NOT NULL,
    seq BIGINT NOT NULL,
    content BYTEA NOT NULL,
    PRIMARY KEY (source_id, path, seq)
);
