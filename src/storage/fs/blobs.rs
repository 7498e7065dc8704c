//! `FsBlobs`: blobs as files in the data dir, `blobs/<shard>/<id>`, where the
//! shard is the last two hex digits of the id (random bits of the UUIDv7,
//! so the 256 shard directories fill evenly).
//!
//! A writer fills `tmp/<id>.part`, then syncs its data (fdatasync), renames
//! it into place and fsyncs the shard directory, so the blob is durable under
//! its final name before the index may point at it. File I/O and hashing run
//! on blocking threads in ~1 MiB batches, never on the async threads.
//!
//! A reader opens the file once; an open file keeps its bytes after an
//! unlink, so a reader that started before an overwrite (and the delete of
//! the old blob) still finishes with the old bytes. Ranges up to 64 KiB are
//! one positioned read; larger ones are read in 1 MiB chunks on blocking
//! tasks with one chunk of read-ahead. Names are generated ids, never keys,
//! so nothing is ever written outside the data dir.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use bytes::{Bytes, BytesMut};
use tokio::task::JoinHandle;

use crate::storage::hash::BodyHasher;
use crate::storage::{
    BlobId, BlobInfo, BlobReader, BlobStore, BlobWriter, ByteStream, StorageError,
};

/// Bytes a writer gathers before handing them to a blocking thread.
const WRITE_BATCH: usize = 1 << 20;
/// Ranges up to this size are read with one positioned read on the async
/// thread: cheaper than a hop to a blocking thread, and short enough (page
/// cache, or one small disk read) not to stall the runtime.
const INLINE_READ: u64 = 64 << 10;
/// Chunk size of larger reads, done on a blocking thread.
const READ_CHUNK: u64 = 1 << 20;
/// The first chunk of a larger read is smaller, so the first bytes reach the
/// client sooner; the following ones are full size for throughput.
const FIRST_READ_CHUNK: u64 = 128 << 10;

/// The data dir's two blob directories.
struct Dirs {
    blobs: PathBuf,
    tmp: PathBuf,
}

impl Dirs {
    fn shard_dir(&self, id: &BlobId) -> PathBuf {
        self.blobs.join(&id.as_str()[30..])
    }

    fn blob_path(&self, id: &BlobId) -> PathBuf {
        self.shard_dir(id).join(id.as_str())
    }

    fn tmp_path(&self, id: &BlobId) -> PathBuf {
        self.tmp.join(format!("{}.part", id.as_str()))
    }
}

/// Refuses ids that are not 32 lowercase hex digits. Generated ids always
/// are; an id read back from a damaged record must never become a path
/// (`..`, `/`) outside the data dir.
fn checked(id: &BlobId) -> Result<&BlobId, StorageError> {
    match BlobId::parse(id.as_str()) {
        Some(_) => Ok(id),
        None => Err(StorageError::Corrupt(format!(
            "invalid blob id {:?}",
            id.as_str()
        ))),
    }
}

/// Blob files under `<data>/blobs`. Cheap to clone.
#[derive(Clone)]
pub struct FsBlobs {
    dirs: Arc<Dirs>,
    open: Arc<OpenBlobs>,
}

/// How many opened blob files stay open for the next GET.
const OPEN_CACHE: usize = 256;

/// Recently opened blob files, so that a hot small object costs no
/// open/fstat/close per GET (~8% of a 4 KiB GET's CPU). Blobs are immutable,
/// so a cached handle is always right; the one thing to get right is never
/// to keep a deleted blob open (its disk space would not come back):
/// `delete` marks the id and unlinks outside the lock, and an insert checks
/// the mark and the link count under the lock.
#[derive(Default)]
struct OpenBlobs {
    inner: std::sync::Mutex<OpenInner>,
}

#[derive(Default)]
struct OpenInner {
    files: std::collections::HashMap<BlobId, (Arc<File>, u64)>,
    /// Insertion order for FIFO eviction (may hold ids already removed).
    order: std::collections::VecDeque<BlobId>,
    /// Blobs being deleted right now.
    deleting: std::collections::HashSet<BlobId>,
}

impl OpenBlobs {
    fn get(&self, id: &BlobId) -> Option<(Arc<File>, u64)> {
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner.files.get(id).cloned()
    }

    /// Caches `file` unless `id` is being or has been deleted.
    fn insert(&self, id: &BlobId, file: &Arc<File>, len: u64) {
        use std::os::unix::fs::MetadataExt;
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let unlinked = file.metadata().map(|m| m.nlink() == 0).unwrap_or(true);
        if unlinked || inner.deleting.contains(id) || inner.files.contains_key(id) {
            return;
        }
        inner.files.insert(id.clone(), (file.clone(), len));
        inner.order.push_back(id.clone());
        while inner.files.len() > OPEN_CACHE {
            match inner.order.pop_front() {
                Some(old) => {
                    inner.files.remove(&old);
                }
                None => break,
            }
        }
    }

    fn start_delete(&self, id: &BlobId) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner.files.remove(id);
        inner.deleting.insert(id.clone());
    }

    fn end_delete(&self, id: &BlobId) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner.deleting.remove(id);
    }
}

fn join_err(e: tokio::task::JoinError) -> StorageError {
    StorageError::Io(io::Error::other(e))
}

/// fsync a directory, making the entries created or renamed in it durable
/// (a file's own fsync does not cover its name in the directory).
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

impl FsBlobs {
    /// Creates `blobs/` and `tmp/` under `data_dir` and empties `tmp/`.
    /// # Behavior
    /// - Everything in `tmp/` is a write that a crash interrupted (or that is
    ///   in flight in another process: call this only once the data dir is
    ///   locked, i.e. after opening the index).
    /// - Shard directories are created on first use, keeping `open` fast.
    pub fn open(data_dir: &Path) -> Result<Self, StorageError> {
        let dirs = Dirs {
            blobs: data_dir.join("blobs"),
            tmp: data_dir.join("tmp"),
        };
        std::fs::create_dir_all(&dirs.blobs)?;
        std::fs::create_dir_all(&dirs.tmp)?;
        for entry in std::fs::read_dir(&dirs.tmp)? {
            let entry = entry?;
            let path = entry.path();
            let removed = if entry.file_type()?.is_dir() {
                std::fs::remove_dir_all(&path)
            } else {
                std::fs::remove_file(&path)
            };
            if let Err(e) = removed {
                tracing::warn!(path = %path.display(), error = %e, "could not remove temp leftover");
            }
        }
        Ok(FsBlobs {
            dirs: Arc::new(dirs),
            open: Arc::default(),
        })
    }
}

/// The part of a writer that lives on blocking threads between batches.
struct WriteState {
    /// Created with the first batch.
    file: Option<File>,
    hasher: BodyHasher,
}

impl WriteState {
    fn write_batch(&mut self, tmp: &Path, batch: Vec<Bytes>) -> io::Result<()> {
        let file = match &mut self.file {
            Some(f) => f,
            None => self
                .file
                .insert(OpenOptions::new().write(true).create_new(true).open(tmp)?),
        };
        for chunk in &batch {
            self.hasher.update(chunk);
            file.write_all(chunk)?;
        }
        Ok(())
    }
}

enum Stage {
    /// No batch in flight.
    Ready(WriteState),
    /// A blocking thread is writing a batch; it hands the state back.
    Busy(JoinHandle<io::Result<WriteState>>),
    /// A batch failed; the blob is abandoned.
    Failed,
}

struct FsBlobWriter {
    dirs: Arc<Dirs>,
    id: BlobId,
    pending: Vec<Bytes>,
    pending_len: usize,
    stage: Stage,
    finished: bool,
}

impl FsBlobWriter {
    /// Waits for the batch in flight, if any, and takes the state back.
    async fn settle(&mut self) -> Result<WriteState, StorageError> {
        match std::mem::replace(&mut self.stage, Stage::Failed) {
            Stage::Ready(state) => Ok(state),
            Stage::Busy(handle) => Ok(handle.await.map_err(join_err)??),
            Stage::Failed => Err(StorageError::Io(io::Error::other(
                "blob write failed earlier",
            ))),
        }
    }
}

#[async_trait::async_trait]
impl BlobWriter for FsBlobWriter {
    async fn write(&mut self, chunk: Bytes) -> Result<(), StorageError> {
        self.pending_len += chunk.len();
        self.pending.push(chunk);
        if self.pending_len < WRITE_BATCH {
            return Ok(());
        }
        // Hand the batch to a blocking thread and return: the next batch
        // arrives from the network while this one goes to disk. At most one
        // batch is in flight, so memory stays around two batches.
        let mut state = self.settle().await?;
        let batch = std::mem::take(&mut self.pending);
        self.pending_len = 0;
        let tmp = self.dirs.tmp_path(&self.id);
        self.stage = Stage::Busy(tokio::task::spawn_blocking(move || {
            state.write_batch(&tmp, batch).map(|()| state)
        }));
        Ok(())
    }

    async fn finish(mut self: Box<Self>) -> Result<BlobInfo, StorageError> {
        let mut state = self.settle().await?;
        let batch = std::mem::take(&mut self.pending);
        let dirs = self.dirs.clone();
        let id = self.id.clone();
        let info = tokio::task::spawn_blocking(move || -> io::Result<BlobInfo> {
            let tmp = dirs.tmp_path(&id);
            state.write_batch(&tmp, batch)?;
            if let Some(file) = state.file.take() {
                file.sync_data()?;
            }
            let dest = dirs.blob_path(&id);
            let shard = dirs.shard_dir(&id);
            if let Err(e) = std::fs::rename(&tmp, &dest) {
                if e.kind() != io::ErrorKind::NotFound {
                    return Err(e);
                }
                // First blob of this shard: create the directory (durably,
                // hence the fsync of `blobs/`) and try again.
                match std::fs::create_dir(&shard) {
                    Ok(()) => sync_dir(&dirs.blobs)?,
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                    Err(e) => return Err(e),
                }
                std::fs::rename(&tmp, &dest)?;
            }
            // The rename must be durable before the index points at the blob.
            sync_dir(&shard)?;
            Ok(state.hasher.finish())
        })
        .await
        .map_err(join_err)??;
        self.finished = true;
        Ok(info)
    }
}

impl Drop for FsBlobWriter {
    /// An unfinished writer discards its temp file (a crash leaves it to the
    /// start-up clean-up of `tmp/`).
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        let tmp = self.dirs.tmp_path(&self.id);
        match std::mem::replace(&mut self.stage, Stage::Failed) {
            Stage::Ready(WriteState { file: None, .. }) => {}
            Stage::Busy(handle) => {
                // The batch may still create the file: remove it afterwards.
                if let Ok(rt) = tokio::runtime::Handle::try_current() {
                    rt.spawn(async move {
                        let _ = handle.await;
                        let _ = std::fs::remove_file(&tmp);
                    });
                }
            }
            Stage::Ready(_) | Stage::Failed => {
                let _ = std::fs::remove_file(&tmp);
            }
        }
    }
}

struct FsBlobReader {
    file: Arc<File>,
    len: u64,
}

/// Reads exactly `len` bytes at `offset` (a shorter file is an error: blobs never shrink).
fn read_chunk(file: &File, offset: u64, len: usize) -> Result<Bytes, StorageError> {
    let mut buf = BytesMut::zeroed(len);
    file.read_exact_at(&mut buf, offset)?;
    Ok(buf.freeze())
}

/// Maps `len` bytes at `offset` and hands them out without copying: the bytes
/// are the page cache's own pages (`MAP_POPULATE` fills the page table in one
/// go instead of one fault per page), so a large GET skips the buffer
/// allocation, its zeroing and the read copy; only the socket write copies.
fn map_chunk(file: &File, offset: u64, len: usize) -> Result<Bytes, StorageError> {
    // SAFETY: a mapping is only unsound if the file shrinks while mapped
    // (SIGBUS). Blobs never do: they are written once under a temporary name,
    // renamed into place, and afterwards only ever unlinked, which leaves an
    // existing mapping intact. Callers stay within the length seen at open.
    let map = unsafe {
        memmap2::MmapOptions::new()
            .offset(offset)
            .len(len)
            .populate()
            .map(file)?
    };
    Ok(Bytes::from_owner(map))
}

/// A large read in flight: each chunk is mapped by its own blocking task,
/// started when the previous chunk is handed out (one chunk of read-ahead,
/// so disk reads overlap network writes). No thread ever waits for a slow
/// client, so slow downloads cannot exhaust the blocking pool that index
/// commits and writes also need.
struct ChunkedRead {
    file: Arc<File>,
    at: u64,
    end: u64,
    chunk: u64,
    next: Option<JoinHandle<Result<Bytes, StorageError>>>,
}

impl ChunkedRead {
    fn start_next(&mut self) {
        if self.at >= self.end {
            return;
        }
        let n = (self.end - self.at).min(self.chunk) as usize;
        let (file, at) = (self.file.clone(), self.at);
        self.next = Some(tokio::task::spawn_blocking(move || map_chunk(&file, at, n)));
        self.at += n as u64;
        self.chunk = READ_CHUNK;
    }
}

impl BlobReader for FsBlobReader {
    fn len(&self) -> u64 {
        self.len
    }

    fn local_file(&self) -> Option<Arc<File>> {
        Some(self.file.clone())
    }

    fn read(&self, range: Range<u64>) -> ByteStream {
        let end = range.end.min(self.len);
        let start = range.start.min(end);
        let file = self.file.clone();
        if end - start <= INLINE_READ {
            if start == end {
                return Box::pin(futures_util::stream::empty());
            }
            return Box::pin(futures_util::stream::once(async move {
                read_chunk(&file, start, (end - start) as usize)
            }));
        }
        // The first chunk is requested on the first poll, so a stream that is
        // never polled costs nothing.
        let read = ChunkedRead {
            file,
            at: start,
            end,
            chunk: FIRST_READ_CHUNK,
            next: None,
        };
        Box::pin(futures_util::stream::unfold(read, |mut read| async move {
            if read.next.is_none() {
                read.start_next();
            }
            let item = match read.next.take()?.await {
                Ok(item) => item,
                Err(e) => Err(join_err(e)),
            };
            match item {
                Ok(_) => read.start_next(),
                // A failed read ends the stream after reporting the error.
                Err(_) => read.at = read.end,
            }
            Some((item, read))
        }))
    }
}

#[async_trait::async_trait]
impl BlobStore for FsBlobs {
    async fn create(&self, id: &BlobId) -> Result<Box<dyn BlobWriter>, StorageError> {
        // The temp file is created by the first batch, on a blocking thread.
        Ok(Box::new(FsBlobWriter {
            dirs: self.dirs.clone(),
            id: checked(id)?.clone(),
            pending: Vec::new(),
            pending_len: 0,
            stage: Stage::Ready(WriteState {
                file: None,
                hasher: BodyHasher::new(),
            }),
            finished: false,
        }))
    }

    /// Opens inline: an open and an fstat are short system calls, and a hop
    /// to a blocking thread would cost more than they do on every small GET.
    /// Recently opened blobs come from the open-file cache.
    async fn open(&self, id: &BlobId) -> Result<Box<dyn BlobReader>, StorageError> {
        let id = checked(id)?;
        if let Some((file, len)) = self.open.get(id) {
            return Ok(Box::new(FsBlobReader { file, len }));
        }
        let file = match File::open(self.dirs.blob_path(id)) {
            Ok(f) => Arc::new(f),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(StorageError::NoSuchKey),
            Err(e) => return Err(e.into()),
        };
        let len = file.metadata()?.len();
        self.open.insert(id, &file, len);
        Ok(Box::new(FsBlobReader { file, len }))
    }

    /// Unlinks on a blocking thread: freeing a large file's extents can take a while.
    async fn delete(&self, id: &BlobId) -> Result<(), StorageError> {
        let id = checked(id)?.clone();
        let path = self.dirs.blob_path(&id);
        self.open.start_delete(&id);
        let result = tokio::task::spawn_blocking(move || match std::fs::remove_file(&path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(StorageError::Io(e)),
            _ => Ok(()),
        })
        .await
        .map_err(join_err);
        self.open.end_delete(&id);
        result?
    }

    /// Blob files whose modification time (set by their writer, before the
    /// rename) is before `t`. Files that are not named like blobs are ignored.
    async fn list_older_than(&self, t: SystemTime) -> Result<Vec<BlobId>, StorageError> {
        let dirs = self.dirs.clone();
        tokio::task::spawn_blocking(move || -> Result<Vec<BlobId>, StorageError> {
            let mut out = Vec::new();
            for shard in std::fs::read_dir(&dirs.blobs)? {
                let shard = shard?;
                if !shard.file_type()?.is_dir() {
                    continue;
                }
                for entry in std::fs::read_dir(shard.path())? {
                    let entry = entry?;
                    let Some(id) = entry.file_name().to_str().and_then(BlobId::parse) else {
                        continue;
                    };
                    if entry.metadata()?.modified()? < t {
                        out.push(id);
                    }
                }
            }
            Ok(out)
        })
        .await
        .map_err(join_err)?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn blob(store: &FsBlobs, data: &'static [u8]) -> BlobId {
        let id = BlobId::generate();
        let mut w = store.create(&id).await.unwrap();
        w.write(Bytes::from_static(data)).await.unwrap();
        w.finish().await.unwrap();
        id
    }

    #[tokio::test]
    async fn open_cache_never_keeps_a_deleted_blob() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsBlobs::open(dir.path()).unwrap();
        let id = blob(&store, b"cached").await;
        let reader = store.open(&id).await.unwrap();
        assert!(store.open.get(&id).is_some(), "opened blobs are cached");
        store.delete(&id).await.unwrap();
        assert!(
            store.open.get(&id).is_none(),
            "delete drops the cached handle"
        );
        assert!(matches!(
            store.open(&id).await,
            Err(StorageError::NoSuchKey)
        ));
        // A reader that opened before the delete still reads the old bytes.
        let got: Vec<Bytes> = futures_util::StreamExt::collect::<Vec<_>>(reader.read(0..6))
            .await
            .into_iter()
            .map(Result::unwrap)
            .collect();
        assert_eq!(got.concat(), b"cached");
        // An unlinked file is never inserted, whatever the order of events.
        let id2 = blob(&store, b"x").await;
        let file = Arc::new(File::open(store.dirs.blob_path(&id2)).unwrap());
        std::fs::remove_file(store.dirs.blob_path(&id2)).unwrap();
        store.open.insert(&id2, &file, 1);
        assert!(store.open.get(&id2).is_none());
    }
}
