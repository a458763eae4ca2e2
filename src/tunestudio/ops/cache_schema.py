"""The SQLite cache file's tables (:class:`~tunestudio.ops.cache_store.SQLiteStore`).

``cache_entries`` holds answers (LRU and expiry indexes for eviction), ``cache_vectors`` the
semantic cache's per-scope question logs, and ``cache_sizes`` each namespace's answer count.
Every statement is idempotent: each process runs the script when it opens the file.
"""

SCHEMA = """
CREATE TABLE IF NOT EXISTS cache_entries (
    namespace TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    expires REAL,
    accessed REAL NOT NULL,
    PRIMARY KEY (namespace, key)
);
CREATE INDEX IF NOT EXISTS cache_entries_lru ON cache_entries (namespace, accessed);
CREATE INDEX IF NOT EXISTS cache_entries_expiry ON cache_entries (namespace, expires);
CREATE TABLE IF NOT EXISTS cache_vectors (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    namespace TEXT NOT NULL,
    scope TEXT NOT NULL,
    key TEXT NOT NULL,
    text TEXT NOT NULL,
    vector BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS cache_vectors_scope ON cache_vectors (namespace, scope, seq);
CREATE INDEX IF NOT EXISTS cache_vectors_key ON cache_vectors (namespace, key);
-- How many answers each namespace holds, kept by triggers so that eviction need not COUNT(*)
-- (a scan of the whole namespace: ~3 ms at 100k answers). The connections turn on
-- recursive_triggers, so the row INSERT OR REPLACE deletes is counted out too.
CREATE TABLE IF NOT EXISTS cache_sizes (namespace TEXT PRIMARY KEY, entries INTEGER NOT NULL);
CREATE TRIGGER IF NOT EXISTS cache_entries_added AFTER INSERT ON cache_entries BEGIN
    -- not INSERT OR IGNORE: the outer INSERT OR REPLACE would override it into a REPLACE
    INSERT INTO cache_sizes SELECT new.namespace, 0
        WHERE NOT EXISTS (SELECT 1 FROM cache_sizes WHERE namespace = new.namespace);
    UPDATE cache_sizes SET entries = entries + 1 WHERE namespace = new.namespace;
END;
CREATE TRIGGER IF NOT EXISTS cache_entries_removed AFTER DELETE ON cache_entries BEGIN
    UPDATE cache_sizes SET entries = entries - 1 WHERE namespace = old.namespace;
END;
-- A file written before the triggers existed: count it once.
INSERT OR IGNORE INTO cache_sizes SELECT namespace, COUNT(*) FROM cache_entries GROUP BY namespace;
"""
