//! Backend behaviour suite (STYLE habit 8): every case takes a `Store` and
//! runs against `Store::memory()`, `Store::open_fs(tempdir)` and PostgreSQL (`PgMeta`), so a
//! backend bug shows up here rather than in handler tests. The cases live in
//! the submodules by topic; `fs_only` holds those that only make sense on disk.

mod acl;
mod append;
mod copy;
mod fs_only;
mod listing;
mod lock;
mod multipart;
mod objects;
mod races;
mod shared;
mod sse;
mod update;
mod versions;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use futures_util::StreamExt;
use localcos::storage::hash::md5_hex;
use localcos::storage::{
    BlobId, BucketRecord, ByteStream, ListQuery, ObjectRecord, PutOptions, Segment, StorageError,
    Store, WriteCondition,
};
use md5::{Digest, Md5};

/// A store under test plus, for the file backend, its data dir.
struct Env {
    store: Store,
    dir: Option<tempfile::TempDir>,
}

impl Env {
    fn memory() -> Env {
        Env {
            store: Store::memory(),
            dir: None,
        }
    }

    async fn fs() -> Env {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_fs(dir.path()).await.unwrap();
        Env {
            store,
            dir: Some(dir),
        }
    }

    /// PostgreSQL (`PgMeta`) on a fresh database of the test server, over
    /// in-memory blobs: the index is what is under test.
    async fn pg() -> Env {
        let url = crate::common::pg::fresh_db().await;
        let meta = localcos::storage::pg::PgMeta::open(&url, Duration::from_secs(10))
            .await
            .unwrap();
        Env {
            store: Store::new(
                std::sync::Arc::new(meta),
                std::sync::Arc::new(localcos::storage::memory::MemoryBlobs::new()),
            ),
            dir: None,
        }
    }

    fn data_dir(&self) -> Option<&Path> {
        self.dir.as_ref().map(|d| d.path())
    }
}

/// Runs each named case against every backend: `memory::<case>`,
/// `fs::<case>` and `pg::<case>` (PostgreSQL, `common::pg`).
macro_rules! conformance {
    ($($module:ident::$case:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$module::$case(super::Env::memory()).await;
                }
            )*
        }
        mod fs {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$module::$case(super::Env::fs().await).await;
                }
            )*
        }
        mod pg {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$module::$case(super::Env::pg().await).await;
                }
            )*
        }
    };
}

conformance!(
    objects::buckets_create_list_delete,
    objects::missing_bucket_everywhere,
    objects::put_head_open_stream,
    objects::empty_object_has_no_blob,
    objects::multi_segment_ranges,
    objects::same_blob_twice_in_manifest,
    objects::overwrite_frees_old_blob,
    objects::reader_before_overwrite_keeps_old_bytes,
    objects::odd_keys_are_just_keys,
    objects::failed_puts_leave_nothing,
    objects::cancelled_put_leaves_nothing,
    objects::content_length_ignores_extra_bytes,
    objects::doomed_put_refused_before_body,
    races::if_none_match_race_one_winner,
    races::if_match,
    races::overwrite_storm_readers_see_whole_versions,
    listing::list_delimiter_and_markers,
    listing::list_matches_model,
    listing::list_paging_collects_everything,
    copy::copy_shares_blob_and_survives_source_delete,
    copy::copy_errors,
    races::copy_racing_delete,
    copy::refcounts_back_to_zero,
    objects::stream_64_mib,
    sse::sealed_objects_round_trip,
    sse::rewrite_between_kinds,
    versions::versions_and_delete_markers,
    versions::plain_object_becomes_null_version,
    versions::suspended_writes_replace_null,
    versions::versions_keep_bucket_non_empty,
    versions::unknown_versions_and_buckets,
    versions::copy_from_old_version,
    versions::versions_listing_pages_and_rolls_up,
    versions::versions_listing_merges_plain_records,
    versions::concurrent_versioned_puts_stay_ordered,
    versions::guarded_deletes,
    update::update_in_place,
    acl::bucket_acl_update,
    acl::object_acl_keeps_bytes,
    acl::acl_change_is_conditional_on_the_whole_record,
    acl::object_acl_per_version,
    append::append_adds_one_blob_per_append,
    append::append_errors_leave_nothing,
    append::append_race_one_winner,
    append::append_on_versioned_bucket,
    multipart::multipart_round_trip,
    multipart::multipart_replace_abort_and_late_parts,
    multipart::multipart_bad_lists_change_nothing,
    multipart::multipart_versioned_and_forbid_overwrite,
    multipart::multipart_listing,
    multipart::multipart_parts_paging,
    multipart::multipart_concurrent_parts_and_complete,
    lock::retention_refuses_delete_and_overwrite,
    lock::retention_ends,
    shared::deferred_deletes_queue,
    shared::leases_expire_and_move,
    shared::secrets_first_writer_wins,
);

// ---------------------------------------------------------------------------
// Helpers

const B: &str = "examplebucket-1250000000";

fn bucket_rec(name: &str) -> BucketRecord {
    BucketRecord {
        name: name.to_string(),
        region: "ap-guangzhou".to_string(),
        created_ms: 1_700_000_000_000,
        versioning: Default::default(),
        acl: None,
        configs: Default::default(),
        layout: Default::default(),
    }
}

async fn with_bucket(env: &Env) {
    env.store.create_bucket(bucket_rec(B)).await.unwrap();
}

/// A body cut into 7 KiB chunks, so writers see several small writes.
fn body(data: &[u8]) -> ByteStream {
    let chunks: Vec<Result<Bytes, StorageError>> = data
        .chunks(7 * 1024)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    Box::pin(futures_util::stream::iter(chunks))
}

async fn read_all(mut s: ByteStream) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(chunk) = s.next().await {
        out.extend_from_slice(&chunk.unwrap());
    }
    out
}

/// Deterministic pseudo-random bytes (xorshift), different per seed.
fn payload(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

async fn put(store: &Store, key: &str, data: &[u8]) -> ObjectRecord {
    store
        .put_object(B, key, body(data), PutOptions::default())
        .await
        .unwrap()
}

async fn get(store: &Store, key: &str) -> Vec<u8> {
    let reader = store.open_object(B, key).await.unwrap();
    let len = reader.len();
    read_all(reader.stream(0..len)).await
}

/// Every blob the store holds (through the trait, so it works for both backends).
async fn blob_count(env: &Env) -> usize {
    let far = SystemTime::now() + Duration::from_secs(3600);
    let n = env.store.blobs().list_older_than(far).await.unwrap().len();
    if let Some(dir) = env.data_dir() {
        assert_eq!(
            files_under(&dir.join("blobs")).len(),
            n,
            "blob files on disk"
        );
    }
    n
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let entry = entry.unwrap();
            if entry.file_type().unwrap().is_dir() {
                todo.push(entry.path());
            } else {
                out.push(entry.path());
            }
        }
    }
    out
}

async fn new_blob(store: &Store, data: &[u8]) -> BlobId {
    let id = BlobId::generate();
    let mut w = store.blobs().create(&id).await.unwrap();
    for c in data.chunks(300 * 1024) {
        w.write(Bytes::copy_from_slice(c)).await.unwrap();
    }
    let info = w.finish().await.unwrap();
    assert_eq!(info.len, data.len() as u64);
    id
}

fn record(segments: Vec<Segment>) -> ObjectRecord {
    ObjectRecord {
        size: segments.iter().map(|s| s.len).sum(),
        etag: "0123456789abcdef0123456789abcdef-3".to_string(),
        crc64: 0,
        last_modified_ms: 1_700_000_000_000,
        headers: Default::default(),
        storage_class: "STANDARD".to_string(),
        segments,
        restore: None,
        sse: None,
        checksum: None,
        version_id: None,
        delete_marker: false,
        acl: None,
        tags: Vec::new(),
        appendable: false,
        retain_until_ms: None,
        symlink_target: None,
        replication_status: None,
        corrupt: None,
    }
}

fn is<T: std::fmt::Debug>(r: Result<T, StorageError>, want: fn(&StorageError) -> bool) {
    match r {
        Err(e) if want(&e) => {}
        other => panic!("unexpected result: {other:?}"),
    }
}

/// Handlers run on a multi-threaded runtime: every future and reader the
/// facade hands out must be `Send`.
#[test]
fn store_futures_are_send() {
    fn send<T: Send>(_: &T) {}
    let s = Store::memory();
    let q = ListQuery::default();
    send(&s.put_object(B, "k", body(b""), PutOptions::default()));
    send(&s.open_object(B, "k"));
    send(&s.head_object(B, "k"));
    send(&s.delete_object(B, "k"));
    send(&s.list_objects(B, &q));
    send(&s.create_bucket(bucket_rec(B)));
    send(&s.copy_object(B, "a", B, "b", WriteCondition::None, |r| {
        Ok::<_, StorageError>(r.clone())
    }));
    send(&s.open_version(B, "k", Some("null")));
    send(&s.head_version(B, "k", None));
    send(&s.delete_version(B, "k", Some("null")));
    send(&s.set_versioning(B, localcos::storage::Versioning::Enabled));
    send(&s.list_versions(B, &localcos::storage::VersionsQuery::default()));
    send(
        &s.copy_version(B, "a", Some("null"), B, "b", WriteCondition::None, |r| {
            Ok::<_, StorageError>(r.clone())
        }),
    );
    send(&Store::open_fs(Path::new("/nonexistent")));
    fn reader_is_send_and_sync<T: Send + Sync>() {}
    reader_is_send_and_sync::<localcos::storage::ObjectReader>();
    reader_is_send_and_sync::<Store>();
}
