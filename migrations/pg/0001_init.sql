-- localcos metadata schema, version 1 (src/storage/pg/mod.rs).
-- Portable SQL: keys are BYTEA (they list in UTF-8 byte order, `a` < `a/b` < `b`),
-- records are JSON kept as TEXT, version seqs are BIGINT (the u64 seq with its
-- top bit flipped, so the signed order is the unsigned one).

CREATE TABLE buckets (
    name TEXT COLLATE "C" PRIMARY KEY,
    rec TEXT NOT NULL
);

-- The current, non-marker record of each key (`storage/versions.rs`).
-- `plain`: written while the bucket was never versioned (no version id).
CREATE TABLE objects (
    bucket TEXT COLLATE "C" NOT NULL,
    key BYTEA NOT NULL,
    plain BOOLEAN NOT NULL,
    rec TEXT NOT NULL,
    PRIMARY KEY (bucket, key)
);

-- Every version and delete marker of versioned keys, newest first by seq.
CREATE TABLE versions (
    bucket TEXT COLLATE "C" NOT NULL,
    key BYTEA NOT NULL,
    seq BIGINT NOT NULL,
    is_null BOOLEAN NOT NULL,
    rec TEXT NOT NULL,
    PRIMARY KEY (bucket, key, seq)
);
CREATE INDEX versions_null ON versions (bucket, key) WHERE is_null;

CREATE TABLE uploads (
    bucket TEXT COLLATE "C" NOT NULL,
    key BYTEA NOT NULL,
    upload_id TEXT COLLATE "C" NOT NULL,
    initiated_ms BIGINT NOT NULL,
    rec TEXT NOT NULL,
    PRIMARY KEY (bucket, key, upload_id)
);
CREATE INDEX uploads_initiated ON uploads (initiated_ms);

CREATE TABLE parts (
    bucket TEXT COLLATE "C" NOT NULL,
    upload_id TEXT COLLATE "C" NOT NULL,
    part_number INTEGER NOT NULL,
    rec TEXT NOT NULL,
    PRIMARY KEY (bucket, upload_id, part_number)
);

-- Blob reference counts: a row exists while some record or part references the blob.
CREATE TABLE blob_refs (
    blob TEXT COLLATE "C" PRIMARY KEY,
    refs BIGINT NOT NULL
);

-- Stored credentials (`storage/keys.rs`): one row, the table as JSON.
CREATE TABLE key_table (
    id INTEGER PRIMARY KEY,
    generation BIGINT NOT NULL,
    check_value TEXT,
    keys TEXT NOT NULL
);
INSERT INTO key_table (id, generation, check_value, keys) VALUES (1, 0, NULL, '[]');

-- Blobs handed to the collector (deleted at or after due_ms).
CREATE TABLE blob_gc (
    blob TEXT COLLATE "C" PRIMARY KEY,
    due_ms BIGINT NOT NULL
);
CREATE INDEX blob_gc_due ON blob_gc (due_ms, blob);

-- Named leases: one holder at a time until until_ms.
CREATE TABLE leases (
    name TEXT COLLATE "C" PRIMARY KEY,
    holder TEXT NOT NULL,
    until_ms BIGINT NOT NULL
);

-- Secrets every node shares (first writer wins).
CREATE TABLE secrets (
    name TEXT COLLATE "C" PRIMARY KEY,
    value BYTEA NOT NULL
);
