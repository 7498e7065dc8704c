//! PostgreSQL `MetaStore` for the cluster mode (issue 10): several stateless
//! localcos nodes share one database and one blob store.
//!
//! ```text
//! buckets   (name) → record                      objects (bucket, key) → current record
//! versions  (bucket, key, seq) → version/marker  uploads (bucket, key, upload_id) → upload
//! parts     (bucket, upload_id, number) → part   blob_refs (blob) → reference count
//! key_table, blob_gc, leases, secrets            schema: migrations/pg/ ([`migrate`])
//! ```
//!
//! Every write is one transaction that first takes the bucket row
//! (`FOR KEY SHARE`, so a bucket delete waits) and the key's lock
//! (`pg_advisory_xact_lock` on a 64-bit hash of bucket and key), then loads
//! the key's rows, runs the shared rule (`versions::commit_put`, ...) over
//! an in-memory journal ([`journal::KeyState`]) and writes the journal back:
//! conditions are evaluated under the lock, so exactly one of N racing
//! conditional creates wins, whichever node they reach. Blob reference
//! counts change in the same transaction; the blobs freed are those whose
//! count reached zero there. Deadlocks and serialization failures are
//! retried.
//!
//! Keys are `BYTEA` (UTF-8 byte order), records JSON text. Reads of the
//! current record are one statement (the GET fast path), pipelined with
//! other readers' over a few shared connections ([`Readers`]). Statements
//! are prepared once per pooled connection. An unreachable database fails fast
//! ([`CONNECT_TIMEOUT`], pool wait) with `StorageError::Unavailable` (503),
//! and the pool reconnects by itself once the database is back.

mod journal;
pub mod migrate;
mod notify;

use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio_postgres::error::SqlState;
use tokio_postgres::NoTls;

use self::journal::KeyState;
use super::keys::{KeyRecord, KeyTable, KeysUpdate};
use super::multipart::{self, CompletePart, PartRecord, UploadCursor, UploadRecord};
use super::versions::{self, BucketRules, DeleteGuard, PLAIN_SEQ};
use super::{
    BlobId, BucketRecord, BucketUpdate, Committed, Deletion, MetaStore, ObjectRecord, Seq,
    StorageError, VersionCursor, VersionEntry, WriteCondition, NULL_VERSION,
};

/// How long opening a connection may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a request waits for a pooled connection.
pub const POOL_WAIT: Duration = Duration::from_secs(2);
/// The longest one metadata call may take (a hung database answers 503).
pub const CALL_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a starting node waits for the database.
pub const STARTUP_WAIT: Duration = Duration::from_secs(30);
/// Default pool size per node.
pub const POOL_SIZE: usize = 16;
/// The most pooled connections kept for single-statement reads (a GET's
/// lookup), each shared by concurrent readers (see [`Readers`]).
const READ_CONNECTIONS: usize = 4;
/// Reads queued on one shared connection before the next one is used.
const PIPELINE_DEPTH: usize = 16;
/// Versions loaded with a key before a write (more on demand).
const TOP_VERSIONS: i64 = 3;
/// How often a transaction is retried after a deadlock or serialization failure.
const MAX_RETRIES: u32 = 30;
/// The NOTIFY channel of bucket-record writes.
pub(crate) const BUCKET_CHANNEL: &str = "localcos_buckets";

/// The PostgreSQL index.
pub struct PgMeta {
    pool: Pool,
    readers: Readers,
    /// Bucket-record writes seen (own commits and other nodes' NOTIFYs).
    generation: Arc<notify::Generation>,
    _listener: notify::ListenerHandle,
}

/// Why one transaction attempt ended early.
enum Fail {
    Storage(StorageError),
    /// The loaded rows were not enough: load the whole key and run again.
    Short,
    /// Deadlock or serialization failure: run again.
    Retry,
}

impl From<StorageError> for Fail {
    fn from(e: StorageError) -> Self {
        Fail::Storage(e)
    }
}

impl From<tokio_postgres::Error> for Fail {
    fn from(e: tokio_postgres::Error) -> Self {
        match e.code() {
            Some(c) if *c == SqlState::T_R_DEADLOCK_DETECTED => Fail::Retry,
            Some(c) if *c == SqlState::T_R_SERIALIZATION_FAILURE => Fail::Retry,
            _ => Fail::Storage(db_error(e)),
        }
    }
}

impl From<deadpool_postgres::PoolError> for Fail {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        Fail::Storage(pool_error(e))
    }
}

/// A database error as the storage layer reports it: connection trouble
/// is `Unavailable` (503), anything else an internal error.
pub fn db_error(e: tokio_postgres::Error) -> StorageError {
    if let Some(db) = e.as_db_error() {
        let code = db.code().code();
        // Class 08: connection exception; 57P0x: shutting down / cannot
        // connect now; 53300: too many connections; 25006/25P0x: read-only
        // (a standby after fail-over).
        if code.starts_with("08") || code.starts_with("57P") || code == "53300" || code == "25006" {
            return StorageError::Unavailable(format!("PostgreSQL: {db}"));
        }
        return StorageError::Io(std::io::Error::other(format!("PostgreSQL: {db}")));
    }
    let io = std::error::Error::source(&e).is_some_and(|s| s.is::<std::io::Error>());
    if e.is_closed() || io || e.to_string().contains("timeout") {
        return StorageError::Unavailable(format!("PostgreSQL: {e}"));
    }
    StorageError::Io(std::io::Error::other(format!("PostgreSQL: {e}")))
}

fn pool_error(e: deadpool_postgres::PoolError) -> StorageError {
    match e {
        deadpool_postgres::PoolError::Backend(e) => match db_error(e) {
            // A connection that could not be made is always unavailability.
            StorageError::Io(e) => StorageError::Unavailable(e.to_string()),
            other => other,
        },
        deadpool_postgres::PoolError::Timeout(_) => {
            StorageError::Unavailable("PostgreSQL: no connection within the pool timeout".into())
        }
        other => StorageError::Unavailable(format!("PostgreSQL pool: {other}")),
    }
}

/// Runs one call with [`CALL_TIMEOUT`].
async fn timed<T>(
    f: impl std::future::Future<Output = Result<T, StorageError>>,
) -> Result<T, StorageError> {
    match tokio::time::timeout(CALL_TIMEOUT, f).await {
        Ok(r) => r,
        Err(_) => Err(StorageError::Unavailable(
            "PostgreSQL did not answer in time".into(),
        )),
    }
}

/// `url` without its password (for banners and logs).
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            if u.password().is_some() {
                let _ = u.set_password(Some("***"));
            }
            u.to_string()
        }
        Err(_) => "<invalid URL>".to_string(),
    }
}

/// The u64 seq as an order-preserving BIGINT (top bit flipped).
fn enc(seq: Seq) -> i64 {
    (seq ^ (1 << 63)) as i64
}

fn dec(v: i64) -> Seq {
    (v as u64) ^ (1 << 63)
}

/// The smallest byte string greater than every string starting with
/// `prefix`; `None` when there is none (empty or all 0xff).
fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut p = prefix.to_vec();
    while let Some(last) = p.pop() {
        if last < 0xff {
            p.push(last + 1);
            return Some(p);
        }
    }
    None
}

/// The advisory lock id of one key: FNV-1a 64 of bucket, NUL, key (the
/// same on every node).
fn key_lock(bucket: &str, key: &str) -> i64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bucket.bytes().chain([0u8]).chain(key.bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h as i64
}

fn to_json<T: serde::Serialize>(v: &T) -> Result<String, StorageError> {
    serde_json::to_string(v).map_err(|e| StorageError::Corrupt(format!("encode: {e}")))
}

fn from_json<T: serde::de::DeserializeOwned>(s: &str) -> Result<T, StorageError> {
    serde_json::from_str(s).map_err(|e| StorageError::Corrupt(format!("stored record: {e}")))
}

fn key_string(bytes: Vec<u8>) -> Result<String, StorageError> {
    String::from_utf8(bytes).map_err(|_| StorageError::Corrupt("key is not UTF-8".into()))
}

/// What a write loads besides the key's current record, newest versions
/// and `null` version.
#[derive(Default, Clone, Copy)]
struct Load<'a> {
    /// A version named by the call.
    seq: Option<Seq>,
    /// An upload of the key, with one part or all of them.
    upload: Option<(&'a str, Parts)>,
}

#[derive(Clone, Copy)]
enum Parts {
    One(u32),
    All,
}

// Statements.
const LOCK_KEY: &str =
    "SELECT rec, pg_advisory_xact_lock($2) IS NULL FROM buckets WHERE name = $1 FOR KEY SHARE";
const LOAD_KEY: &str = "SELECT 1, 0::BIGINT, rec FROM objects WHERE bucket = $1 AND key = $2
     UNION ALL (SELECT 2, seq, rec FROM versions WHERE bucket = $1 AND key = $2 ORDER BY seq LIMIT $3)
     UNION ALL (SELECT 3, seq, rec FROM versions WHERE bucket = $1 AND key = $2 AND is_null)
     UNION ALL (SELECT 4, seq, rec FROM versions WHERE bucket = $1 AND key = $2 AND seq = $4)";
const LOAD_UPLOAD: &str =
    "SELECT 0, rec FROM uploads WHERE bucket = $1 AND key = $2 AND upload_id = $3
     UNION ALL (SELECT part_number, rec FROM parts WHERE bucket = $1 AND upload_id = $3
                AND ($4::INTEGER IS NULL OR part_number = $4) ORDER BY part_number)";
const MUST_EXIST: &str = "SELECT blob FROM blob_refs WHERE blob = ANY($1) ORDER BY blob FOR UPDATE";
const UPSERT_OBJECT: &str = "INSERT INTO objects (bucket, key, plain, rec) VALUES ($1, $2, $3, $4)
     ON CONFLICT (bucket, key) DO UPDATE SET plain = EXCLUDED.plain, rec = EXCLUDED.rec";
const DELETE_OBJECT: &str = "DELETE FROM objects WHERE bucket = $1 AND key = $2";
const UPSERT_VERSION: &str =
    "INSERT INTO versions (bucket, key, seq, is_null, rec) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (bucket, key, seq) DO UPDATE SET is_null = EXCLUDED.is_null, rec = EXCLUDED.rec";
const DELETE_VERSION: &str = "DELETE FROM versions WHERE bucket = $1 AND key = $2 AND seq = $3";
const UPSERT_PART: &str =
    "INSERT INTO parts (bucket, upload_id, part_number, rec) VALUES ($1, $2, $3, $4)
     ON CONFLICT (bucket, upload_id, part_number) DO UPDATE SET rec = EXCLUDED.rec";
const DELETE_UPLOAD: &str = "DELETE FROM uploads WHERE bucket = $1 AND key = $2 AND upload_id = $3";
const DELETE_PARTS: &str = "DELETE FROM parts WHERE bucket = $1 AND upload_id = $2";
const ADD_REFS: &str = "INSERT INTO blob_refs (blob, refs)
     SELECT b, n FROM unnest($1::TEXT[], $2::BIGINT[]) AS t(b, n)
     ON CONFLICT (blob) DO UPDATE SET refs = blob_refs.refs + EXCLUDED.refs";
const DROP_FREED: &str = "DELETE FROM blob_refs WHERE blob = ANY($1) AND refs <= 0 RETURNING blob";
const NOTIFY: &str = "SELECT pg_notify('localcos_buckets', '')";

type Tx<'a> = deadpool_postgres::Transaction<'a>;

/// The pool's use, for `localcos_meta_pool_*` on `/-/metrics`.
#[derive(Debug)]
struct PoolGauge(Pool);

impl crate::metrics::PoolUsage for PoolGauge {
    fn in_use(&self) -> u64 {
        let s = self.0.status();
        s.size.saturating_sub(s.available) as u64
    }
    fn idle(&self) -> u64 {
        self.0.status().available as u64
    }
    fn max(&self) -> u64 {
        self.0.status().max_size as u64
    }
}

impl PgMeta {
    /// The connection pool's use (in use, idle, size limit) for the metrics.
    pub fn pool_usage(&self) -> Arc<dyn crate::metrics::PoolUsage> {
        Arc::new(PoolGauge(self.pool.clone()))
    }

    /// Connects to `url` (`postgres://user[:pass]@host:port/db`), applies
    /// the schema migrations and starts the bucket-change listener.
    /// # Behavior
    /// - Waits up to `startup_wait` for the database to accept connections
    ///   (nodes may start before it); then fails with `Unavailable`.
    pub async fn open(url: &str, startup_wait: Duration) -> Result<PgMeta, StorageError> {
        let mut config: tokio_postgres::Config = url
            .parse()
            .map_err(|e| StorageError::Format(format!("invalid --meta-url: {e}")))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        config.keepalives(true);
        config.keepalives_idle(Duration::from_secs(10));
        if config.get_application_name().is_none() {
            config.application_name("localcos");
        }
        let deadline = tokio::time::Instant::now() + startup_wait;
        loop {
            match Self::migrate_once(&config).await {
                Ok(()) => break,
                Err(StorageError::Unavailable(msg)) if tokio::time::Instant::now() < deadline => {
                    tracing::warn!(error = %msg, "waiting for PostgreSQL");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                Err(e) => return Err(e),
            }
        }
        let mgr = Manager::from_config(
            config.clone(),
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(mgr)
            .max_size(POOL_SIZE)
            .wait_timeout(Some(POOL_WAIT))
            .create_timeout(Some(CONNECT_TIMEOUT))
            .recycle_timeout(Some(CONNECT_TIMEOUT))
            .runtime(Runtime::Tokio1)
            .build()
            .map_err(|e| StorageError::Format(format!("PostgreSQL pool: {e}")))?;
        let generation = Arc::new(notify::Generation::default());
        let listener = notify::spawn(config, generation.clone());
        Ok(PgMeta {
            readers: Readers::new(pool.clone(), READ_CONNECTIONS, PIPELINE_DEPTH),
            pool,
            generation,
            _listener: listener,
        })
    }

    async fn migrate_once(config: &tokio_postgres::Config) -> Result<(), StorageError> {
        let (mut client, conn) = config.connect(NoTls).await.map_err(db_error)?;
        let task = tokio::spawn(async move {
            let _ = conn.await;
        });
        let r = migrate::migrate(&mut client).await;
        drop(client);
        let _ = task.await;
        match r {
            Ok(_) => Ok(()),
            Err(migrate::MigrateError::Db(e)) => Err(db_error(e)),
            Err(e) => Err(StorageError::Format(e.to_string())),
        }
    }

    async fn client(&self) -> Result<deadpool_postgres::Client, StorageError> {
        self.pool.get().await.map_err(pool_error)
    }

    /// A shared connection for one read-only statement.
    async fn reader(&self) -> Result<Reader<'_>, StorageError> {
        self.readers.get().await
    }

    /// Bumps the local bucket generation after a committed bucket write
    /// (other nodes learn it from the NOTIFY sent in the transaction).
    fn bucket_written(&self) {
        self.generation.bump();
    }

    /// Loads a key's rows (under its lock) into a journal.
    async fn load_key(
        tx: &Tx<'_>,
        bucket: &str,
        key: &str,
        load: Load<'_>,
        full: bool,
    ) -> Result<KeyState, Fail> {
        let st = tx.prepare_cached(LOAD_KEY).await?;
        let limit: Option<i64> = if full { None } else { Some(TOP_VERSIONS) };
        let seq = load.seq.map(enc);
        let rows = tx
            .query(&st, &[&bucket, &key.as_bytes(), &limit, &seq])
            .await?;
        let mut ks = KeyState {
            complete: full,
            named: load.seq,
            ..Default::default()
        };
        let mut top = 0i64;
        for row in rows {
            let kind: i32 = row.get(0);
            let rec: ObjectRecord = from_json(row.get::<_, &str>(2))?;
            let seq = dec(row.get::<_, i64>(1));
            match kind {
                1 => ks.cur = Some(rec),
                2 => {
                    top += 1;
                    ks.horizon = Some(ks.horizon.map_or(seq, |h| h.max(seq)));
                    ks.vers.insert(seq, rec);
                }
                _ => {
                    ks.vers.insert(seq, rec);
                }
            }
        }
        if top < TOP_VERSIONS {
            ks.complete = true;
        }
        if let Some((upload_id, parts)) = load.upload {
            let st = tx.prepare_cached(LOAD_UPLOAD).await?;
            let one: Option<i32> = match parts {
                Parts::One(n) => Some(n as i32),
                Parts::All => None,
            };
            let rows = tx
                .query(&st, &[&bucket, &key.as_bytes(), &upload_id, &one])
                .await?;
            for row in rows {
                let n: i32 = row.get(0);
                let text: &str = row.get(1);
                if n == 0 {
                    ks.upload = Some(from_json(text)?);
                } else {
                    ks.parts.insert(n as u32, from_json(text)?);
                }
            }
            match parts {
                Parts::One(n) => ks.one_part = Some(n),
                Parts::All => ks.parts_all = true,
            }
        }
        Ok(ks)
    }

    /// Writes a journal back; returns the blobs whose count reached zero.
    async fn apply(
        tx: &Tx<'_>,
        bucket: &str,
        key: &str,
        upload_id: Option<&str>,
        ks: &KeyState,
    ) -> Result<Vec<BlobId>, Fail> {
        let kb = key.as_bytes();
        if !ks.must_exist.is_empty() {
            let ids: Vec<&str> = ks.must_exist.iter().map(|b| b.as_str()).collect();
            let st = tx.prepare_cached(MUST_EXIST).await?;
            let found = tx.query(&st, &[&ids]).await?;
            if found.len() < ids.len() {
                return Err(StorageError::Conflict.into());
            }
        }
        if ks.cur_dirty {
            match &ks.cur {
                Some(rec) => {
                    let st = tx.prepare_cached(UPSERT_OBJECT).await?;
                    let plain = rec.version_id.is_none();
                    tx.execute(&st, &[&bucket, &kb, &plain, &to_json(rec)?])
                        .await?;
                }
                None => {
                    let st = tx.prepare_cached(DELETE_OBJECT).await?;
                    tx.execute(&st, &[&bucket, &kb]).await?;
                }
            }
        }
        for (seq, written) in &ks.ver_dirty {
            match ks.vers.get(seq).filter(|_| *written) {
                Some(rec) => {
                    let st = tx.prepare_cached(UPSERT_VERSION).await?;
                    let is_null = rec.version_id.as_deref() == Some(NULL_VERSION);
                    tx.execute(&st, &[&bucket, &kb, &enc(*seq), &is_null, &to_json(rec)?])
                        .await?;
                }
                None => {
                    let st = tx.prepare_cached(DELETE_VERSION).await?;
                    tx.execute(&st, &[&bucket, &kb, &enc(*seq)]).await?;
                }
            }
        }
        if let Some(upload_id) = upload_id {
            if ks.upload_removed {
                let st = tx.prepare_cached(DELETE_UPLOAD).await?;
                tx.execute(&st, &[&bucket, &kb, &upload_id]).await?;
                let st = tx.prepare_cached(DELETE_PARTS).await?;
                tx.execute(&st, &[&bucket, &upload_id]).await?;
            } else {
                for part in ks.parts_dirty.values() {
                    let st = tx.prepare_cached(UPSERT_PART).await?;
                    tx.execute(
                        &st,
                        &[
                            &bucket,
                            &upload_id,
                            &(part.part_number as i32),
                            &to_json(part)?,
                        ],
                    )
                    .await?;
                }
            }
        }
        let changed: Vec<(&str, i64)> = ks
            .refs
            .iter()
            .filter(|(_, n)| **n != 0)
            .map(|(b, n)| (b.as_str(), *n))
            .collect();
        if changed.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<&str> = changed.iter().map(|c| c.0).collect();
        let deltas: Vec<i64> = changed.iter().map(|c| c.1).collect();
        let st = tx.prepare_cached(ADD_REFS).await?;
        tx.execute(&st, &[&ids, &deltas]).await?;
        let dropped: Vec<&str> = changed.iter().filter(|c| c.1 < 0).map(|c| c.0).collect();
        if dropped.is_empty() {
            return Ok(Vec::new());
        }
        let st = tx.prepare_cached(DROP_FREED).await?;
        let rows = tx.query(&st, &[&dropped]).await?;
        rows.iter()
            .map(|r| {
                BlobId::parse(r.get(0)).ok_or_else(|| {
                    Fail::Storage(StorageError::Corrupt("bad blob id in blob_refs".into()))
                })
            })
            .collect()
    }

    /// One write transaction on one key: lock, load, rule, write back.
    /// Returns the rule's result and the blobs freed.
    async fn key_write<T>(
        &self,
        bucket: &str,
        key: &str,
        load: Load<'_>,
        rule: impl Fn(&mut KeyState, BucketRules) -> Result<T, StorageError> + Send + Sync,
    ) -> Result<(T, Vec<BlobId>), StorageError> {
        let mut full = false;
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            match self.key_write_once(bucket, key, load, full, &rule).await {
                Ok(v) => return Ok(v),
                Err(Fail::Storage(e)) => return Err(e),
                Err(Fail::Short) if !full => full = true,
                Err(Fail::Short) => {
                    return Err(StorageError::Corrupt(
                        "pg: a rule read beyond a fully loaded key".into(),
                    ))
                }
                Err(Fail::Retry) if attempt < MAX_RETRIES => {
                    let jitter = rand::random::<u64>() % (2 + u64::from(attempt) * 2);
                    tokio::time::sleep(Duration::from_millis(jitter)).await;
                }
                Err(Fail::Retry) => return Err(StorageError::Conflict),
            }
        }
    }

    async fn key_write_once<T>(
        &self,
        bucket: &str,
        key: &str,
        load: Load<'_>,
        full: bool,
        rule: &(impl Fn(&mut KeyState, BucketRules) -> Result<T, StorageError> + Send + Sync),
    ) -> Result<(T, Vec<BlobId>), Fail> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let st = tx.prepare_cached(LOCK_KEY).await?;
        let Some(row) = tx
            .query_opt(&st, &[&bucket, &key_lock(bucket, key)])
            .await?
        else {
            return Err(StorageError::NoSuchBucket.into());
        };
        let brec: BucketRecord = from_json(row.get::<_, &str>(0))?;
        let rules = BucketRules::of(&brec);
        let mut ks = Self::load_key(&tx, bucket, key, load, full).await?;
        let out = rule(&mut ks, rules);
        if ks.is_short() {
            return Err(Fail::Short);
        }
        let out = out?;
        let freed = Self::apply(&tx, bucket, key, load.upload.map(|u| u.0), &ks).await?;
        tx.commit().await?;
        Ok((out, freed))
    }

    /// A read-only view of one key (one statement), with its bucket.
    async fn read_key(
        &self,
        bucket: &str,
        key: &str,
        seq: Option<Seq>,
    ) -> Result<KeyState, StorageError> {
        let client = self.reader().await?;
        let st = client
            .prepare_cached(
                "SELECT 0, 0::BIGINT, name FROM buckets WHERE name = $1
                 UNION ALL SELECT 1, 0::BIGINT, rec FROM objects WHERE bucket = $1 AND key = $2
                 UNION ALL (SELECT 2, seq, rec FROM versions WHERE bucket = $1 AND key = $2 ORDER BY seq LIMIT $3)
                 UNION ALL (SELECT 3, seq, rec FROM versions WHERE bucket = $1 AND key = $2 AND is_null)
                 UNION ALL (SELECT 4, seq, rec FROM versions WHERE bucket = $1 AND key = $2 AND seq = $4)",
            )
            .await
            .map_err(db_error)?;
        let rows = client
            .query(
                &st,
                &[&bucket, &key.as_bytes(), &Some(TOP_VERSIONS), &seq.map(enc)],
            )
            .await
            .map_err(db_error)?;
        let mut ks = KeyState {
            named: seq,
            ..Default::default()
        };
        let mut found = false;
        let mut top = 0;
        for row in rows {
            let kind: i32 = row.get(0);
            if kind == 0 {
                found = true;
                continue;
            }
            let rec: ObjectRecord = from_json(row.get::<_, &str>(2))?;
            let seq = dec(row.get::<_, i64>(1));
            match kind {
                1 => ks.cur = Some(rec),
                2 => {
                    top += 1;
                    ks.horizon = Some(ks.horizon.map_or(seq, |h| h.max(seq)));
                    ks.vers.insert(seq, rec);
                }
                _ => {
                    ks.vers.insert(seq, rec);
                }
            }
        }
        if !found {
            return Err(StorageError::NoSuchBucket);
        }
        ks.complete = top < TOP_VERSIONS;
        Ok(ks)
    }

    async fn bucket_exists(&self, bucket: &str) -> Result<bool, StorageError> {
        let client = self.reader().await?;
        let st = client
            .prepare_cached("SELECT 1 FROM buckets WHERE name = $1")
            .await
            .map_err(db_error)?;
        Ok(client
            .query_opt(&st, &[&bucket])
            .await
            .map_err(db_error)?
            .is_some())
    }
}

/// A few pooled connections that concurrent single-statement reads share.
///
/// tokio-postgres pipelines the queries of every task holding the same
/// client: the connection task writes all pending ones in one go and the
/// server backend reads them in one wake-up. Under load that costs the
/// database one wake-up and context switch per batch instead of per GET
/// (on a busy CPU the switches, not the index lookups, dominated a GET's
/// cost), and a GET no longer takes and returns a pool slot. Readers fill
/// the first connection up to `depth` queued statements before using the
/// next, so batches stay large at moderate load and a busy node still
/// spreads over several database backends. Statements are independent
/// autocommit reads, each with its own snapshot taken after every write
/// acknowledged before it was sent, so read-after-write holds. Only short
/// point reads go here: a long statement would hold up those queued behind
/// it on the same connection.
struct Readers {
    pool: Pool,
    slots: Vec<ReadSlot>,
    depth: usize,
}

#[derive(Default)]
struct ReadSlot {
    conn: std::sync::Mutex<Option<Arc<deadpool_postgres::Client>>>,
    /// Held while one reader (re)fills `conn`, so a burst of readers on an
    /// empty slot opens one connection, not one each.
    fill: tokio::sync::Mutex<()>,
    /// Statements in flight on this slot's connection.
    busy: std::sync::atomic::AtomicUsize,
}

/// One read's share of a slot's connection (counted while it lives).
struct Reader<'a> {
    client: Arc<deadpool_postgres::Client>,
    _count: SlotCount<'a>,
}

impl std::ops::Deref for Reader<'_> {
    type Target = deadpool_postgres::Client;
    fn deref(&self) -> &Self::Target {
        &self.client
    }
}

impl Readers {
    fn new(pool: Pool, n: usize, depth: usize) -> Readers {
        Readers {
            pool,
            slots: (0..n.max(1)).map(|_| ReadSlot::default()).collect(),
            depth: depth.max(1),
        }
    }

    /// A share of the first slot with room (else of the least busy one),
    /// whose connection is taken from the pool when the slot is empty or
    /// its connection has closed (the database restarted): an unreachable
    /// database fails here as fast as a pool checkout does.
    async fn get(&self) -> Result<Reader<'_>, StorageError> {
        use std::sync::atomic::Ordering::Relaxed;
        let slot = self
            .slots
            .iter()
            .find(|s| s.busy.load(Relaxed) < self.depth)
            .or_else(|| self.slots.iter().min_by_key(|s| s.busy.load(Relaxed)))
            .expect("at least one slot");
        slot.busy.fetch_add(1, Relaxed);
        // From here the count is given back on every path: by this guard,
        // or by the Reader that takes it over.
        let count = SlotCount(&slot.busy);
        let live = || lock_slot(&slot.conn).clone().filter(|c| !c.is_closed());
        let client = match live() {
            Some(c) => c,
            None => {
                let _filling = slot.fill.lock().await;
                match live() {
                    // Another reader filled it while this one waited.
                    Some(c) => c,
                    None => {
                        let fresh = Arc::new(self.pool.get().await.map_err(pool_error)?);
                        *lock_slot(&slot.conn) = Some(fresh.clone());
                        fresh
                    }
                }
            }
        };
        Ok(Reader {
            client,
            _count: count,
        })
    }
}

/// One unit of a slot's count of statements in flight, given back on drop.
struct SlotCount<'a>(&'a std::sync::atomic::AtomicUsize);

impl Drop for SlotCount<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}

fn lock_slot<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // The slot holds only an Arc: a panic elsewhere cannot leave it torn.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Drop for PgMeta {
    fn drop(&mut self) {
        self.pool.close();
    }
}

#[async_trait::async_trait]
impl MetaStore for PgMeta {
    async fn create_bucket(&self, rec: BucketRecord) -> Result<(), StorageError> {
        timed(async {
            let client = self.client().await?;
            let st = client
                .prepare_cached(
                    "WITH ins AS (INSERT INTO buckets (name, rec) VALUES ($1, $2)
                                  ON CONFLICT (name) DO NOTHING RETURNING name)
                     SELECT pg_notify('localcos_buckets', name) IS NULL FROM ins",
                )
                .await
                .map_err(db_error)?;
            let rows = client
                .query(&st, &[&rec.name, &to_json(&rec)?])
                .await
                .map_err(db_error)?;
            if rows.is_empty() {
                return Err(StorageError::BucketExists);
            }
            self.bucket_written();
            Ok(())
        })
        .await
    }

    async fn bucket(&self, name: &str) -> Result<Option<BucketRecord>, StorageError> {
        timed(async {
            let client = self.reader().await?;
            let st = client
                .prepare_cached("SELECT rec FROM buckets WHERE name = $1")
                .await
                .map_err(db_error)?;
            match client.query_opt(&st, &[&name]).await.map_err(db_error)? {
                Some(row) => Ok(Some(from_json(row.get::<_, &str>(0))?)),
                None => Ok(None),
            }
        })
        .await
    }

    async fn list_buckets(&self) -> Result<Vec<BucketRecord>, StorageError> {
        timed(async {
            let client = self.client().await?;
            let st = client
                .prepare_cached("SELECT rec FROM buckets ORDER BY name")
                .await
                .map_err(db_error)?;
            client
                .query(&st, &[])
                .await
                .map_err(db_error)?
                .iter()
                .map(|r| from_json(r.get::<_, &str>(0)))
                .collect()
        })
        .await
    }

    async fn delete_bucket(&self, name: &str) -> Result<(), StorageError> {
        timed(async {
            let mut client = self.client().await?;
            let tx = client.transaction().await.map_err(db_error)?;
            let lock = tx
                .prepare_cached("SELECT 1 FROM buckets WHERE name = $1 FOR UPDATE")
                .await
                .map_err(db_error)?;
            if tx
                .query_opt(&lock, &[&name])
                .await
                .map_err(db_error)?
                .is_none()
            {
                return Err(StorageError::NoSuchBucket);
            }
            let used = tx
                .prepare_cached(
                    "SELECT EXISTS (SELECT 1 FROM objects WHERE bucket = $1)
                         OR EXISTS (SELECT 1 FROM versions WHERE bucket = $1)
                         OR EXISTS (SELECT 1 FROM uploads WHERE bucket = $1)",
                )
                .await
                .map_err(db_error)?;
            let busy: bool = tx
                .query_one(&used, &[&name])
                .await
                .map_err(db_error)?
                .get(0);
            if busy {
                return Err(StorageError::BucketNotEmpty);
            }
            let del = tx
                .prepare_cached("DELETE FROM buckets WHERE name = $1")
                .await
                .map_err(db_error)?;
            tx.execute(&del, &[&name]).await.map_err(db_error)?;
            tx.execute(NOTIFY, &[]).await.map_err(db_error)?;
            tx.commit().await.map_err(db_error)?;
            self.bucket_written();
            Ok(())
        })
        .await
    }

    async fn object(&self, bucket: &str, key: &str) -> Result<Option<ObjectRecord>, StorageError> {
        timed(async {
            let client = self.reader().await?;
            // The object row alone (the GET fast path): a row means the
            // bucket exists, since a bucket is deleted only when it has no
            // objects, under its row lock. Only a miss asks about the bucket.
            let st = client
                .prepare_cached("SELECT rec FROM objects WHERE bucket = $1 AND key = $2")
                .await
                .map_err(db_error)?;
            let row = client
                .query_opt(&st, &[&bucket, &key.as_bytes()])
                .await
                .map_err(db_error)?;
            drop(client);
            match row {
                Some(row) => Ok(Some(from_json(row.get::<_, &str>(0))?)),
                None if self.bucket_exists(bucket).await? => Ok(None),
                None => Err(StorageError::NoSuchBucket),
            }
        })
        .await
    }

    async fn object_version(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
    ) -> Result<Option<ObjectRecord>, StorageError> {
        timed(async {
            let seq = version_id.and_then(versions::parse_version_id);
            let ks = self.read_key(bucket, key, seq).await?;
            match versions::lookup(&ks, version_id) {
                Ok(r) => Ok(r),
                Err(_) if ks.is_short() => {
                    // Every loaded version was... never: lookup reads only
                    // the current record, the newest, the null and the
                    // named version, all loaded.
                    Err(StorageError::Corrupt(
                        "pg: lookup beyond loaded rows".into(),
                    ))
                }
                Err(e) => Err(e),
            }
        })
        .await
    }

    async fn put_object(
        &self,
        bucket: &str,
        key: &str,
        rec: ObjectRecord,
        fresh: &[BlobId],
        cond: WriteCondition,
    ) -> Result<Committed, StorageError> {
        timed(async {
            let (mut c, freed) = self
                .key_write(bucket, key, Load::default(), |t, rules| {
                    versions::commit_put(t, rules, rec.clone(), fresh, &cond)
                })
                .await?;
            c.freed = freed;
            Ok(c)
        })
        .await
    }

    async fn delete_object(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
    ) -> Result<Deletion, StorageError> {
        timed(async {
            let load = Load {
                seq: version_id.and_then(versions::parse_version_id),
                upload: None,
            };
            let (mut d, freed) = self
                .key_write(bucket, key, load, |t, rules| {
                    versions::commit_delete(t, rules, version_id)
                })
                .await?;
            d.freed = freed;
            Ok(d)
        })
        .await
    }

    async fn delete_object_guarded(
        &self,
        bucket: &str,
        key: &str,
        guard: DeleteGuard,
    ) -> Result<Deletion, StorageError> {
        timed(async {
            let rec = match &guard {
                DeleteGuard::Current(r)
                | DeleteGuard::Noncurrent(r)
                | DeleteGuard::LatestMarker(r) => r,
            };
            let load = Load {
                seq: rec
                    .version_id
                    .as_deref()
                    .and_then(versions::parse_version_id),
                upload: None,
            };
            let (mut d, freed) = self
                .key_write(bucket, key, load, |t, rules| {
                    versions::commit_delete_guarded(t, rules, &guard)
                })
                .await?;
            d.freed = freed;
            Ok(d)
        })
        .await
    }

    async fn list_objects(
        &self,
        bucket: &str,
        prefix: &str,
        start_after: &str,
        limit: usize,
    ) -> Result<Vec<(String, ObjectRecord)>, StorageError> {
        timed(async {
            let rows = {
                let client = self.client().await?;
                let st = client
                    .prepare_cached(
                        "SELECT key, rec FROM objects
                         WHERE bucket = $1 AND key > $2 AND key >= $3
                           AND ($4::BYTEA IS NULL OR key < $4)
                         ORDER BY key LIMIT $5",
                    )
                    .await
                    .map_err(db_error)?;
                client
                    .query(
                        &st,
                        &[
                            &bucket,
                            &start_after.as_bytes(),
                            &prefix.as_bytes(),
                            &prefix_end(prefix.as_bytes()),
                            &(limit.min(i64::MAX as usize) as i64),
                        ],
                    )
                    .await
                    .map_err(db_error)?
            };
            if rows.is_empty() && !self.bucket_exists(bucket).await? {
                return Err(StorageError::NoSuchBucket);
            }
            rows.into_iter()
                .map(|r| Ok((key_string(r.get(0))?, from_json(r.get::<_, &str>(1))?)))
                .collect()
        })
        .await
    }

    async fn list_versions(
        &self,
        bucket: &str,
        prefix: &str,
        after: &VersionCursor,
        limit: usize,
    ) -> Result<Vec<VersionEntry>, StorageError> {
        timed(async {
            let start = if after.key.as_str() < prefix {
                prefix
            } else {
                after.key.as_str()
            };
            let rows = {
                let client = self.client().await?;
                // Versions and plain records merged by (key, seq); an entry
                // comes after the cursor when its key is greater, or equal
                // with a seq greater than the cursor's.
                let st = client
                    .prepare_cached(
                        "SELECT e.key, e.seq, e.rec,
                                e.seq = $7 OR e.seq = (SELECT min(v2.seq) FROM versions v2
                                                       WHERE v2.bucket = $1 AND v2.key = e.key)
                         FROM (
                             SELECT key, seq, rec FROM versions
                             WHERE bucket = $1 AND key >= $2 AND ($3::BYTEA IS NULL OR key < $3)
                             UNION ALL
                             SELECT key, $7, rec FROM objects
                             WHERE bucket = $1 AND plain AND key >= $2 AND ($3::BYTEA IS NULL OR key < $3)
                         ) e
                         WHERE e.key > $4 OR (e.key = $4 AND $5::BIGINT IS NOT NULL AND e.seq > $5)
                         ORDER BY e.key, e.seq LIMIT $6",
                    )
                    .await
                    .map_err(db_error)?;
                client
                    .query(
                        &st,
                        &[
                            &bucket,
                            &start.as_bytes(),
                            &prefix_end(prefix.as_bytes()),
                            &after.key.as_bytes(),
                            &after.seq.map(enc),
                            &(limit.min(i64::MAX as usize) as i64),
                            &enc(PLAIN_SEQ),
                        ],
                    )
                    .await
                    .map_err(db_error)?
            };
            if rows.is_empty() && !self.bucket_exists(bucket).await? {
                return Err(StorageError::NoSuchBucket);
            }
            rows.into_iter()
                .map(|r| {
                    Ok(VersionEntry {
                        key: key_string(r.get(0))?,
                        seq: dec(r.get(1)),
                        record: from_json(r.get::<_, &str>(2))?,
                        is_latest: r.get(3),
                    })
                })
                .collect()
        })
        .await
    }

    async fn blob_referenced(&self, blob: &BlobId) -> Result<bool, StorageError> {
        timed(async {
            let client = self.client().await?;
            let st = client
                .prepare_cached("SELECT 1 FROM blob_refs WHERE blob = $1")
                .await
                .map_err(db_error)?;
            Ok(client
                .query_opt(&st, &[&blob.as_str()])
                .await
                .map_err(db_error)?
                .is_some())
        })
        .await
    }

    async fn update_object_meta(
        &self,
        bucket: &str,
        key: &str,
        expected: &ObjectRecord,
        new: ObjectRecord,
    ) -> Result<(), StorageError> {
        timed(async {
            let load = Load {
                seq: expected
                    .version_id
                    .as_deref()
                    .and_then(versions::parse_version_id),
                upload: None,
            };
            self.key_write(bucket, key, load, |t, _| {
                versions::update_meta(t, expected, new.clone())
            })
            .await?;
            Ok(())
        })
        .await
    }

    async fn append_object(
        &self,
        bucket: &str,
        key: &str,
        base: Option<&ObjectRecord>,
        rec: ObjectRecord,
        fresh: &[BlobId],
    ) -> Result<Committed, StorageError> {
        timed(async {
            let load = Load {
                seq: base
                    .and_then(|b| b.version_id.as_deref())
                    .and_then(versions::parse_version_id),
                upload: None,
            };
            let (mut c, freed) = self
                .key_write(bucket, key, load, |t, rules| {
                    super::append::commit_append(t, rules, base, rec.clone(), fresh)
                })
                .await?;
            c.freed = freed;
            Ok(c)
        })
        .await
    }

    fn bucket_generation(&self) -> Option<u64> {
        self.generation.current()
    }

    async fn update_bucket(
        &self,
        name: &str,
        update: BucketUpdate,
    ) -> Result<BucketRecord, StorageError> {
        timed(async {
            let mut client = self.client().await?;
            let tx = client.transaction().await.map_err(db_error)?;
            let sel = tx
                .prepare_cached("SELECT rec FROM buckets WHERE name = $1 FOR NO KEY UPDATE")
                .await
                .map_err(db_error)?;
            let row = tx
                .query_opt(&sel, &[&name])
                .await
                .map_err(db_error)?
                .ok_or(StorageError::NoSuchBucket)?;
            let mut rec: BucketRecord = from_json(row.get::<_, &str>(0))?;
            update(&mut rec);
            rec.name = name.to_string();
            let upd = tx
                .prepare_cached("UPDATE buckets SET rec = $2 WHERE name = $1")
                .await
                .map_err(db_error)?;
            tx.execute(&upd, &[&name, &to_json(&rec)?])
                .await
                .map_err(db_error)?;
            tx.execute(NOTIFY, &[]).await.map_err(db_error)?;
            tx.commit().await.map_err(db_error)?;
            self.bucket_written();
            Ok(rec)
        })
        .await
    }

    async fn create_upload(&self, bucket: &str, rec: UploadRecord) -> Result<(), StorageError> {
        timed(async {
            let mut client = self.client().await?;
            let tx = client.transaction().await.map_err(db_error)?;
            let st = tx
                .prepare_cached("SELECT 1 FROM buckets WHERE name = $1 FOR KEY SHARE")
                .await
                .map_err(db_error)?;
            if tx
                .query_opt(&st, &[&bucket])
                .await
                .map_err(db_error)?
                .is_none()
            {
                return Err(StorageError::NoSuchBucket);
            }
            let ins = tx
                .prepare_cached(
                    "INSERT INTO uploads (bucket, key, upload_id, initiated_ms, rec)
                     VALUES ($1, $2, $3, $4, $5)
                     ON CONFLICT (bucket, key, upload_id) DO UPDATE
                     SET initiated_ms = EXCLUDED.initiated_ms, rec = EXCLUDED.rec",
                )
                .await
                .map_err(db_error)?;
            tx.execute(
                &ins,
                &[
                    &bucket,
                    &rec.key.as_bytes(),
                    &rec.upload_id,
                    &rec.initiated_ms,
                    &to_json(&rec)?,
                ],
            )
            .await
            .map_err(db_error)?;
            tx.commit().await.map_err(db_error)?;
            Ok(())
        })
        .await
    }

    async fn upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> Result<Option<UploadRecord>, StorageError> {
        timed(async {
            let client = self.client().await?;
            let st = client
                .prepare_cached(
                    "SELECT u.rec FROM buckets b
                     LEFT JOIN uploads u ON u.bucket = b.name AND u.key = $2 AND u.upload_id = $3
                     WHERE b.name = $1",
                )
                .await
                .map_err(db_error)?;
            let row = client
                .query_opt(&st, &[&bucket, &key.as_bytes(), &upload_id])
                .await
                .map_err(db_error)?
                .ok_or(StorageError::NoSuchBucket)?;
            match row.get::<_, Option<&str>>(0) {
                Some(text) => Ok(Some(from_json(text)?)),
                None => Ok(None),
            }
        })
        .await
    }

    async fn put_part(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        part: PartRecord,
    ) -> Result<Vec<BlobId>, StorageError> {
        timed(async {
            let load = Load {
                seq: None,
                upload: Some((upload_id, Parts::One(part.part_number))),
            };
            let (_, freed) = self
                .key_write(bucket, key, load, |t, _| multipart::commit_part(t, &part))
                .await?;
            Ok(freed)
        })
        .await
    }

    async fn list_parts(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        after: u32,
        limit: usize,
    ) -> Result<(UploadRecord, Vec<PartRecord>), StorageError> {
        timed(async {
            let up = self
                .upload(bucket, key, upload_id)
                .await?
                .ok_or(StorageError::NoSuchUpload)?;
            let client = self.client().await?;
            let st = client
                .prepare_cached(
                    "SELECT rec FROM parts WHERE bucket = $1 AND upload_id = $2 AND part_number > $3
                     ORDER BY part_number LIMIT $4",
                )
                .await
                .map_err(db_error)?;
            let after = i32::try_from(after).unwrap_or(i32::MAX);
            let rows = client
                .query(
                    &st,
                    &[
                        &bucket,
                        &upload_id,
                        &after,
                        &(limit.min(i64::MAX as usize) as i64),
                    ],
                )
                .await
                .map_err(db_error)?;
            let parts = rows
                .iter()
                .map(|r| from_json(r.get::<_, &str>(0)))
                .collect::<Result<Vec<PartRecord>, _>>()?;
            Ok((up, parts))
        })
        .await
    }

    async fn list_uploads(
        &self,
        bucket: &str,
        prefix: &str,
        after: &UploadCursor,
        limit: usize,
    ) -> Result<Vec<UploadRecord>, StorageError> {
        timed(async {
            let start = if after.key.as_str() < prefix {
                prefix
            } else {
                after.key.as_str()
            };
            let rows = {
                let client = self.client().await?;
                let st = client
                    .prepare_cached(
                        "SELECT rec FROM uploads
                         WHERE bucket = $1 AND key >= $2 AND ($3::BYTEA IS NULL OR key < $3)
                           AND (key > $4 OR (key = $4 AND $5::TEXT IS NOT NULL AND upload_id > $5))
                         ORDER BY key, upload_id LIMIT $6",
                    )
                    .await
                    .map_err(db_error)?;
                client
                    .query(
                        &st,
                        &[
                            &bucket,
                            &start.as_bytes(),
                            &prefix_end(prefix.as_bytes()),
                            &after.key.as_bytes(),
                            &after.upload_id,
                            &(limit.min(i64::MAX as usize) as i64),
                        ],
                    )
                    .await
                    .map_err(db_error)?
            };
            if rows.is_empty() && !self.bucket_exists(bucket).await? {
                return Err(StorageError::NoSuchBucket);
            }
            rows.iter()
                .map(|r| from_json(r.get::<_, &str>(0)))
                .collect()
        })
        .await
    }

    async fn abort_upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> Result<Vec<BlobId>, StorageError> {
        timed(async {
            let load = Load {
                seq: None,
                upload: Some((upload_id, Parts::All)),
            };
            let (_, freed) = self
                .key_write(bucket, key, load, |t, _| multipart::commit_abort(t))
                .await?;
            Ok(freed)
        })
        .await
    }

    async fn complete_upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        listed: Vec<CompletePart>,
        cond: WriteCondition,
        now_ms: i64,
    ) -> Result<(Committed, ObjectRecord), StorageError> {
        timed(async {
            let load = Load {
                seq: None,
                upload: Some((upload_id, Parts::All)),
            };
            let ((mut c, rec), freed) = self
                .key_write(bucket, key, load, |t, rules| {
                    multipart::commit_complete(t, rules, &listed, cond.clone(), now_ms)
                })
                .await?;
            c.freed = freed;
            Ok((c, rec))
        })
        .await
    }

    async fn stale_uploads(
        &self,
        before_ms: i64,
        limit: usize,
    ) -> Result<Vec<(String, UploadRecord)>, StorageError> {
        timed(async {
            let client = self.client().await?;
            let st = client
                .prepare_cached(
                    "SELECT bucket, rec FROM uploads WHERE initiated_ms < $1
                     ORDER BY bucket, key, upload_id LIMIT $2",
                )
                .await
                .map_err(db_error)?;
            let rows = client
                .query(&st, &[&before_ms, &(limit.min(i64::MAX as usize) as i64)])
                .await
                .map_err(db_error)?;
            rows.iter()
                .map(|r| Ok((r.get::<_, String>(0), from_json(r.get::<_, &str>(1))?)))
                .collect()
        })
        .await
    }

    // The collector and shared-state calls (the `gc` lane's `MetaStore`
    // methods): see the trait for their contracts.

    /// Hands blobs to the collector: delete at or after `due_ms`.
    async fn defer_blob_deletes(&self, ids: &[BlobId], due_ms: i64) -> Result<(), StorageError> {
        if ids.is_empty() {
            return Ok(());
        }
        timed(async {
            let client = self.client().await?;
            let mut ids: Vec<&str> = ids.iter().map(|b| b.as_str()).collect();
            ids.sort_unstable();
            ids.dedup();
            let st = client
                .prepare_cached(
                    "INSERT INTO blob_gc (blob, due_ms) SELECT b, $2 FROM unnest($1::TEXT[]) AS t(b)
                     ON CONFLICT (blob) DO UPDATE SET due_ms = GREATEST(blob_gc.due_ms, EXCLUDED.due_ms)",
                )
                .await
                .map_err(db_error)?;
            client.execute(&st, &[&ids, &due_ms]).await.map_err(db_error)?;
            Ok(())
        })
        .await
    }

    /// Up to `limit` deferred blobs due at `now_ms`, oldest first.
    async fn due_blob_deletes(
        &self,
        now_ms: i64,
        limit: usize,
    ) -> Result<Vec<BlobId>, StorageError> {
        timed(async {
            let client = self.client().await?;
            let st = client
                .prepare_cached(
                    "SELECT blob FROM blob_gc WHERE due_ms <= $1 ORDER BY due_ms, blob LIMIT $2",
                )
                .await
                .map_err(db_error)?;
            let rows = client
                .query(&st, &[&now_ms, &(limit as i64)])
                .await
                .map_err(db_error)?;
            rows.iter()
                .map(|r| {
                    BlobId::parse(r.get(0))
                        .ok_or_else(|| StorageError::Corrupt("bad blob id in blob_gc".into()))
                })
                .collect()
        })
        .await
    }

    /// Forgets deferred entries.
    async fn forget_blob_deletes(&self, ids: &[BlobId]) -> Result<(), StorageError> {
        if ids.is_empty() {
            return Ok(());
        }
        timed(async {
            let client = self.client().await?;
            let ids: Vec<&str> = ids.iter().map(|b| b.as_str()).collect();
            let st = client
                .prepare_cached("DELETE FROM blob_gc WHERE blob = ANY($1)")
                .await
                .map_err(db_error)?;
            client.execute(&st, &[&ids]).await.map_err(db_error)?;
            Ok(())
        })
        .await
    }

    /// The number of deferred entries.
    async fn blob_delete_backlog(&self) -> Result<u64, StorageError> {
        timed(async {
            let client = self.client().await?;
            let st = client
                .prepare_cached("SELECT count(*) FROM blob_gc")
                .await
                .map_err(db_error)?;
            let n: i64 = client.query_one(&st, &[]).await.map_err(db_error)?.get(0);
            Ok(n.max(0) as u64)
        })
        .await
    }

    /// Takes or renews lease `name` for `holder` until `now_ms + ttl_ms`.
    async fn lease(
        &self,
        name: &str,
        holder: &str,
        now_ms: i64,
        ttl_ms: i64,
    ) -> Result<bool, StorageError> {
        timed(async {
            let client = self.client().await?;
            let st = client
                .prepare_cached(
                    "INSERT INTO leases (name, holder, until_ms) VALUES ($1, $2, $4)
                     ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, until_ms = EXCLUDED.until_ms
                     WHERE leases.holder = EXCLUDED.holder OR leases.until_ms <= $3
                     RETURNING until_ms > $3",
                )
                .await
                .map_err(db_error)?;
            let row = client
                .query_opt(&st, &[&name, &holder, &now_ms, &now_ms.saturating_add(ttl_ms)])
                .await
                .map_err(db_error)?;
            Ok(row.is_some_and(|r| r.get::<_, bool>(0)))
        })
        .await
    }

    /// The shared secret `name`, or `init` stored as it (first writer wins).
    async fn secret_or_init(&self, name: &str, init: Vec<u8>) -> Result<Vec<u8>, StorageError> {
        timed(async {
            let client = self.client().await?;
            let ins = client
                .prepare_cached(
                    "INSERT INTO secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
                )
                .await
                .map_err(db_error)?;
            client
                .execute(&ins, &[&name, &init])
                .await
                .map_err(db_error)?;
            let sel = client
                .prepare_cached("SELECT value FROM secrets WHERE name = $1")
                .await
                .map_err(db_error)?;
            let row = client.query_one(&sel, &[&name]).await.map_err(db_error)?;
            Ok(row.get(0))
        })
        .await
    }

    async fn keys(&self) -> Result<KeyTable, StorageError> {
        timed(async {
            let client = self.client().await?;
            let st = client
                .prepare_cached("SELECT generation, check_value, keys FROM key_table WHERE id = 1")
                .await
                .map_err(db_error)?;
            let row = client.query_one(&st, &[]).await.map_err(db_error)?;
            Ok(KeyTable {
                generation: row.get::<_, i64>(0) as u64,
                check: row.get(1),
                keys: from_json::<Vec<KeyRecord>>(row.get::<_, &str>(2))?,
            })
        })
        .await
    }

    async fn keys_generation(&self) -> Result<u64, StorageError> {
        timed(async {
            let client = self.client().await?;
            let st = client
                .prepare_cached("SELECT generation FROM key_table WHERE id = 1")
                .await
                .map_err(db_error)?;
            let row = client.query_one(&st, &[]).await.map_err(db_error)?;
            Ok(row.get::<_, i64>(0) as u64)
        })
        .await
    }

    async fn update_keys(&self, update: KeysUpdate) -> Result<KeyTable, StorageError> {
        timed(async {
            let mut client = self.client().await?;
            let tx = client.transaction().await.map_err(db_error)?;
            let sel = tx
                .prepare_cached(
                    "SELECT generation, check_value, keys FROM key_table WHERE id = 1 FOR UPDATE",
                )
                .await
                .map_err(db_error)?;
            let row = tx.query_one(&sel, &[]).await.map_err(db_error)?;
            let table = KeyTable {
                generation: row.get::<_, i64>(0) as u64,
                check: row.get(1),
                keys: from_json::<Vec<KeyRecord>>(row.get::<_, &str>(2))?,
            };
            let mut next = table.clone();
            update(&mut next)?;
            next.keys.sort_by(|a, b| a.secret_id.cmp(&b.secret_id));
            next.keys.dedup_by(|a, b| a.secret_id == b.secret_id);
            next.generation = table.generation + 1;
            let upd = tx
                .prepare_cached(
                    "UPDATE key_table SET generation = $1, check_value = $2, keys = $3 WHERE id = 1",
                )
                .await
                .map_err(db_error)?;
            tx.execute(
                &upd,
                &[&(next.generation as i64), &next.check, &to_json(&next.keys)?],
            )
            .await
            .map_err(db_error)?;
            tx.commit().await.map_err(db_error)?;
            Ok(next)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seq_encoding_keeps_order() {
        let seqs = [
            0u64,
            1,
            2,
            1 << 62,
            (1 << 63) - 1,
            1 << 63,
            u64::MAX - 1,
            u64::MAX,
        ];
        for w in seqs.windows(2) {
            assert!(enc(w[0]) < enc(w[1]), "{} < {}", w[0], w[1]);
        }
        for s in seqs {
            assert_eq!(dec(enc(s)), s);
        }
    }

    #[test]
    fn prefix_end_cases() {
        let cases: &[(&[u8], Option<&[u8]>)] = &[
            (b"", None),
            (b"a", Some(b"b")),
            (b"a/", Some(b"a0")),
            (b"a\xff", Some(b"b")),
            (b"\xff\xff", None),
        ];
        for (p, want) in cases {
            assert_eq!(prefix_end(p).as_deref(), *want, "{p:?}");
        }
    }

    #[test]
    fn key_lock_is_stable_and_separates_bucket_from_key() {
        assert_eq!(key_lock("b", "k"), key_lock("b", "k"));
        assert_ne!(key_lock("ab", "c"), key_lock("a", "bc"));
    }
}
