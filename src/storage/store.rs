//! `Store`: the rules every deployment shares, written once over a
//! `MetaStore` and a `BlobStore` (hashing, write conditions, manifests,
//! freeing replaced blobs). The operations in `op/` call only this.

use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use super::*;

/// Options for [`Store::put_object`].
#[derive(Debug, Clone, Default)]
pub struct PutOptions {
    pub headers: ObjectHeaders,
    pub storage_class: String,
    /// Expected MD5 (from `Content-MD5`); mismatch → `BadDigest`, nothing stored.
    pub content_md5: Option<[u8; 16]>,
    /// `Content-Length` when given: fewer bytes → `IncompleteBody`; extra bytes are ignored.
    pub content_length: Option<u64>,
    /// Largest body accepted → `TooLarge` beyond it.
    pub max_size: u64,
    pub condition: WriteCondition,
}

/// GET Bucket (list v1) input.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    pub prefix: String,
    /// Empty means no delimiter.
    pub delimiter: String,
    pub marker: String,
    pub max_keys: usize,
}

/// One page of a listing. Common prefixes and objects together count against `max_keys`.
#[derive(Debug, Clone, Default)]
pub struct ListPage {
    pub objects: Vec<(String, ObjectRecord)>,
    pub common_prefixes: Vec<String>,
    pub is_truncated: bool,
    /// Last key or common prefix of this page when truncated.
    pub next_marker: Option<String>,
}

/// An object's record together with its opened blobs: what the record says is
/// what `stream` returns, even if the key is overwritten meanwhile.
pub struct ObjectReader {
    pub record: ObjectRecord,
    blobs: Vec<Box<dyn BlobReader>>,
}

/// The storage facade. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    meta: Arc<dyn MetaStore>,
    blobs: Arc<dyn BlobStore>,
}

// TEMPORARY signatures until the storage branch lands.
#[allow(unused_variables)]
impl Store {
    pub fn new(meta: Arc<dyn MetaStore>, blobs: Arc<dyn BlobStore>) -> Self {
        Store { meta, blobs }
    }
    pub fn memory() -> Self {
        todo!()
    }
    pub async fn open_fs(data_dir: &Path) -> Result<Store, StorageError> {
        todo!()
    }
    pub async fn create_bucket(&self, rec: BucketRecord) -> Result<(), StorageError> {
        self.meta.create_bucket(rec).await
    }
    pub async fn bucket(&self, name: &str) -> Result<Option<BucketRecord>, StorageError> {
        self.meta.bucket(name).await
    }
    pub async fn list_buckets(&self) -> Result<Vec<BucketRecord>, StorageError> {
        self.meta.list_buckets().await
    }
    pub async fn delete_bucket(&self, name: &str) -> Result<(), StorageError> {
        self.meta.delete_bucket(name).await
    }
    pub async fn put_object(
        &self,
        bucket: &str,
        key: &str,
        body: ByteStream,
        opts: PutOptions,
    ) -> Result<ObjectRecord, StorageError> {
        todo!()
    }
    pub async fn head_object(&self, bucket: &str, key: &str) -> Result<ObjectRecord, StorageError> {
        todo!()
    }
    pub async fn open_object(&self, bucket: &str, key: &str) -> Result<ObjectReader, StorageError> {
        todo!()
    }
    pub async fn delete_object(
        &self,
        bucket: &str,
        key: &str,
    ) -> Result<Option<ObjectRecord>, StorageError> {
        todo!()
    }
    pub async fn copy_object<E: From<StorageError> + Send>(
        &self,
        src_bucket: &str,
        src_key: &str,
        dst_bucket: &str,
        dst_key: &str,
        cond: WriteCondition,
        build: impl Fn(&ObjectRecord) -> Result<ObjectRecord, E> + Send + Sync,
    ) -> Result<ObjectRecord, E> {
        todo!()
    }
    pub async fn list_objects(
        &self,
        bucket: &str,
        q: &ListQuery,
    ) -> Result<ListPage, StorageError> {
        todo!()
    }
}
impl ObjectReader {
    pub fn stream(self, range: Range<u64>) -> ByteStream {
        let _ = &self.blobs;
        todo!()
    }
}
