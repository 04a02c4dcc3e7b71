-- Web sources: what each fetched URL last answered. Validators (ETag / Last-Modified) make the
-- next crawl's requests conditional; the links (or, for a sitemap, the URLs it lists) let a
-- crawl go on through a page that answers 304 Not Modified or fails for a while.
-- `content_hash` is the hash of the body the validators belong to: they are only sent while
-- the indexed document still has that hash, so a crash between fetch and index cannot leave
-- a stale page behind a 304.
CREATE TABLE web_pages (
    source_id TEXT NOT NULL REFERENCES sources(id) ON DELETE CASCADE,
    url TEXT NOT NULL,
    kind TEXT NOT NULL,
    final_url TEXT NOT NULL,
    etag TEXT,
    last_modified TEXT,
    content_hash TEXT NOT NULL,
    links TEXT NOT NULL DEFAULT '[]',
    fetched_at TEXT NOT NULL,
    PRIMARY KEY (source_id, url)
);
