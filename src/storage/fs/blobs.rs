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
//!
//! Shared mode ([`FsBlobs::open_shared`]): several nodes use one directory
//! (NFS, CephFS). Blob names are unique forever, so the rename stays the
//! commit; what changes is temp files and cached handles:
//!
//! ```text
//! <dir>/blobs/<xx>/<id>        as in the data dir
//! <dir>/tmp/<node>/<id>.part   this node's writes in flight (<node>: fresh per process)
//! <dir>/tmp/<node>/ALIVE       touched every HEARTBEAT while the node lives
//! ```
//!
//! No node ever empties `tmp/` on start: a node removes another node's temp
//! dir only once its `ALIVE` is older than `STALE_NODE` (a killed node's
//! leftovers), and its own when it shuts down. Cached open handles are
//! dropped after `SHARED_HANDLE_TTL`, so a blob another node deleted does not
//! keep its disk space for long.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

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

/// A shared node heartbeats this often (touches its `ALIVE` file).
const HEARTBEAT: Duration = Duration::from_secs(30);
/// A node temp dir whose `ALIVE` is older than this belongs to a dead node:
/// any node removes it. Far above `HEARTBEAT`, so that clock skew between
/// nodes and a slow shared file system never make a live node look dead.
const STALE_NODE: Duration = Duration::from_secs(10 * 60);
/// Plain files directly in a shared `tmp/` (not in a node dir: written by an
/// embedded-layout process) are removed when untouched for this long.
const STALE_LOOSE_TMP: Duration = Duration::from_secs(24 * 3600);
/// How long a cached open handle is trusted in shared mode.
const SHARED_HANDLE_TTL: Duration = Duration::from_secs(5);
/// The heartbeat file in a node's temp dir.
const ALIVE: &str = "ALIVE";

/// The blob directories.
struct Dirs {
    blobs: PathBuf,
    /// Where this process writes temp files: `<data>/tmp` (embedded) or
    /// `<dir>/tmp/<node>` (shared).
    tmp: PathBuf,
    /// `<dir>/tmp` in shared mode: the parent of every node's temp dir.
    shared_tmp: Option<PathBuf>,
}

impl Drop for Dirs {
    /// A shared node's temp dir goes with the last handle on the store (every
    /// writer holds one, so no write is in flight by then).
    fn drop(&mut self) {
        if self.shared_tmp.is_some() {
            let _ = std::fs::remove_dir_all(&self.tmp);
        }
    }
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
    /// Shared mode: entries older than this are not used (another node may
    /// have deleted the blob; its space comes back once the handle closes).
    ttl: Option<Duration>,
}

#[derive(Default)]
struct OpenInner {
    files: std::collections::HashMap<BlobId, (Arc<File>, u64, Instant)>,
    /// Insertion order for FIFO eviction (may hold ids already removed).
    order: std::collections::VecDeque<BlobId>,
    /// Blobs being deleted right now.
    deleting: std::collections::HashSet<BlobId>,
}

impl OpenBlobs {
    fn get(&self, id: &BlobId) -> Option<(Arc<File>, u64)> {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let (file, len, at) = inner.files.get(id).cloned()?;
        if self.ttl.is_some_and(|ttl| at.elapsed() > ttl) {
            inner.files.remove(id);
            return None;
        }
        Some((file, len))
    }

    /// Shared mode: closes handles older than the TTL, oldest first (the
    /// insertion order is the age order).
    fn expire(&self, inner: &mut OpenInner) {
        let Some(ttl) = self.ttl else { return };
        while let Some(old) = inner.order.front() {
            match inner.files.get(old) {
                Some((_, _, at)) if at.elapsed() <= ttl => break,
                _ => {
                    if let Some(old) = inner.order.pop_front() {
                        inner.files.remove(&old);
                    }
                }
            }
        }
    }

    /// Caches `file` unless `id` is being or has been deleted.
    fn insert(&self, id: &BlobId, file: &Arc<File>, len: u64) {
        use std::os::unix::fs::MetadataExt;
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        self.expire(&mut inner);
        let unlinked = file.metadata().map(|m| m.nlink() == 0).unwrap_or(true);
        if unlinked || inner.deleting.contains(id) || inner.files.contains_key(id) {
            return;
        }
        inner
            .files
            .insert(id.clone(), (file.clone(), len, Instant::now()));
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
        self.expire(&mut inner);
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
            shared_tmp: None,
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

    /// Opens a blob directory that several nodes share (`--blob-store DIR`
    /// with `--meta-url`): `<dir>/blobs` as in a data dir, and a temp dir of
    /// this process's own under `<dir>/tmp` (see the module doc).
    /// # Behavior
    /// - Never touches another live node's temp files: removes only the temp
    ///   dirs of nodes whose heartbeat stopped more than `STALE_NODE` ago
    ///   (now, and from a background task every `HEARTBEAT` when called
    ///   inside a tokio runtime, which also keeps this node's heartbeat).
    /// - Deletes nothing in `blobs/`: orphans are the collector's business
    ///   (grace period, `list_older_than`).
    pub fn open_shared(dir: &Path) -> Result<Self, StorageError> {
        let shared_tmp = dir.join("tmp");
        let node = format!("node-{}", uuid::Uuid::now_v7().simple());
        let dirs = Dirs {
            blobs: dir.join("blobs"),
            tmp: shared_tmp.join(node),
            shared_tmp: Some(shared_tmp),
        };
        std::fs::create_dir_all(&dirs.blobs)?;
        std::fs::create_dir_all(&dirs.tmp)?;
        touch_alive(&dirs.tmp)?;
        let removed = sweep_shared_tmp(&dirs, SystemTime::now());
        if removed > 0 {
            tracing::info!(removed, "removed temp files of dead nodes");
        }
        let dirs = Arc::new(dirs);
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(heartbeat(Arc::downgrade(&dirs)));
        }
        Ok(FsBlobs {
            dirs,
            open: Arc::new(OpenBlobs {
                ttl: Some(SHARED_HANDLE_TTL),
                ..OpenBlobs::default()
            }),
        })
    }

    /// This process's temp dir (shared mode: `<dir>/tmp/<node>`).
    pub fn temp_dir(&self) -> &Path {
        &self.dirs.tmp
    }
}

/// Creates or refreshes a node's `ALIVE` file (its modification time is the heartbeat).
fn touch_alive(node_tmp: &Path) -> io::Result<()> {
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(node_tmp.join(ALIVE))?;
    file.set_modified(SystemTime::now())
}

/// Keeps this node's heartbeat and removes dead nodes' temp dirs until the
/// store is dropped.
async fn heartbeat(dirs: std::sync::Weak<Dirs>) {
    loop {
        tokio::time::sleep(HEARTBEAT).await;
        let Some(dirs) = dirs.upgrade() else { return };
        let done = tokio::task::spawn_blocking(move || {
            // A node dir removed by someone who thought us dead (a long
            // pause): recreate it, so new writes work again.
            if let Err(e) = std::fs::create_dir_all(&dirs.tmp).and_then(|()| touch_alive(&dirs.tmp)) {
                tracing::warn!(dir = %dirs.tmp.display(), error = %e, "blob store heartbeat failed");
            }
            sweep_shared_tmp(&dirs, SystemTime::now())
        })
        .await;
        if let Ok(removed) = done {
            if removed > 0 {
                tracing::info!(removed, "removed temp files of dead nodes");
            }
        }
    }
}

/// Removes, under a shared `tmp/`, other nodes' dirs whose heartbeat is older
/// than `STALE_NODE` at `now`, and loose files older than `STALE_LOOSE_TMP`.
/// Returns how many entries it removed; errors are logged (another node may
/// be removing the same dir at the same time).
fn sweep_shared_tmp(dirs: &Dirs, now: SystemTime) -> usize {
    let Some(root) = &dirs.shared_tmp else {
        return 0;
    };
    let entries = match std::fs::read_dir(root) {
        Ok(entries) => entries,
        Err(e) => {
            tracing::warn!(dir = %root.display(), error = %e, "could not list shared temp dir");
            return 0;
        }
    };
    let older = |t: io::Result<SystemTime>, age: Duration| match t {
        Ok(t) => now.duration_since(t).is_ok_and(|d| d > age),
        Err(_) => false,
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let path = entry.path();
        if path == dirs.tmp {
            continue;
        }
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        let result = if kind.is_dir() {
            // No ALIVE yet (a node between mkdir and its first touch): the dir's own time.
            let beat = std::fs::metadata(path.join(ALIVE))
                .or_else(|_| entry.metadata())
                .and_then(|m| m.modified());
            if !older(beat, STALE_NODE) {
                continue;
            }
            std::fs::remove_dir_all(&path)
        } else {
            if !older(entry.metadata().and_then(|m| m.modified()), STALE_LOOSE_TMP) {
                continue;
            }
            std::fs::remove_file(&path)
        };
        match result {
            Ok(()) => removed += 1,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "could not remove stale temp files")
            }
        }
    }
    removed
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
            None => self.file.insert(create_temp(tmp)?),
        };
        for chunk in &batch {
            self.hasher.update(chunk);
            file.write_all(chunk)?;
        }
        Ok(())
    }
}

/// Creates a temp file; its directory is created again if it went away
/// (a shared node's temp dir after a pause long enough to look dead).
fn create_temp(tmp: &Path) -> io::Result<File> {
    let create = || OpenOptions::new().write(true).create_new(true).open(tmp);
    match create() {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            if let Some(parent) = tmp.parent() {
                std::fs::create_dir_all(parent)?;
            }
            create()
        }
        other => other,
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

/// Reads exactly `len` bytes at `offset` (a shorter file is an error: blobs
/// never shrink) into a buffer that is not zero-filled first: `pread(2)`
/// writes straight into its spare capacity, and its length grows only by
/// what was read. By hand because std's `read_exact_at` wants an initialised
/// slice (the fill was a `memset` of the whole chunk on every small GET,
/// about 3% of a 4 KiB GET's instructions under callgrind) and its
/// `read_buf_at` is unstable.
fn read_chunk(file: &File, offset: u64, len: usize) -> Result<Bytes, StorageError> {
    use std::os::fd::AsRawFd;
    let mut buf = BytesMut::with_capacity(len);
    while buf.len() < len {
        let filled = buf.len();
        let at = libc::off_t::try_from(offset + filled as u64)
            .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        let spare = &mut buf.spare_capacity_mut()[..len - filled];
        // SAFETY: `spare` is writable memory of `spare.len()` bytes, the
        // most `pread` writes; the descriptor is `file`'s, open for reading.
        let n =
            unsafe { libc::pread(file.as_raw_fd(), spare.as_mut_ptr().cast(), spare.len(), at) };
        match n {
            0 => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "blob shorter than its record",
                )
                .into())
            }
            // SAFETY: `pread` initialised the first `n` bytes of `spare`,
            // which start at `filled`; `n <= spare.len()` keeps the new
            // length within the capacity.
            n if n > 0 => unsafe { buf.set_len(filled + n as usize) },
            _ => {
                let e = io::Error::last_os_error();
                if e.kind() != io::ErrorKind::Interrupted {
                    return Err(e.into());
                }
            }
        }
    }
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

    async fn read_all(store: &FsBlobs, id: &BlobId) -> Vec<u8> {
        let reader = store.open(id).await.unwrap();
        let chunks: Vec<Bytes> =
            futures_util::StreamExt::collect::<Vec<_>>(reader.read(0..reader.len()))
                .await
                .into_iter()
                .map(Result::unwrap)
                .collect();
        chunks.concat()
    }

    fn age(path: &Path, by: Duration) {
        let file = OpenOptions::new().write(true).open(path).unwrap();
        file.set_modified(SystemTime::now() - by).unwrap();
    }

    #[tokio::test]
    async fn shared_nodes_keep_each_others_writes_in_flight() {
        let dir = tempfile::tempdir().unwrap();
        let a = FsBlobs::open_shared(dir.path()).unwrap();
        let id = BlobId::generate();
        let mut w = a.create(&id).await.unwrap();
        // Two full batches: the temp file exists on disk.
        let batch = Bytes::from(vec![7u8; WRITE_BATCH]);
        w.write(batch.clone()).await.unwrap();
        w.write(batch.clone()).await.unwrap();
        // A second node starting now (and its first sweep) leaves it alone.
        let b = FsBlobs::open_shared(dir.path()).unwrap();
        assert_ne!(a.temp_dir(), b.temp_dir(), "each node has its own temp dir");
        w.write(Bytes::from_static(b"tail")).await.unwrap();
        let info = w.finish().await.unwrap();
        assert_eq!(info.len, 2 * WRITE_BATCH as u64 + 4);
        // The other node sees the committed blob, lists it and can delete it.
        let got = read_all(&b, &id).await;
        assert_eq!(got.len() as u64, info.len);
        assert!(got.ends_with(b"tail"));
        let listed = b
            .list_older_than(SystemTime::now() + Duration::from_secs(1))
            .await
            .unwrap();
        assert_eq!(listed, vec![id.clone()]);
        b.delete(&id).await.unwrap();
        assert!(matches!(a.open(&id).await, Err(StorageError::NoSuchKey)));
    }

    #[tokio::test]
    async fn shared_open_removes_only_dead_nodes_temp_dirs() {
        let dir = tempfile::tempdir().unwrap();
        let tmp = dir.path().join("tmp");
        // A node killed long ago, a node alive right now, a node that made its
        // dir but never beat (recent), and loose files of two ages.
        for (node, beat) in [
            ("node-dead", Some(3600)),
            ("node-live", Some(0)),
            ("node-new", None),
        ] {
            std::fs::create_dir_all(tmp.join(node)).unwrap();
            std::fs::write(tmp.join(node).join("x.part"), b"partial").unwrap();
            if let Some(secs) = beat {
                std::fs::write(tmp.join(node).join(ALIVE), b"").unwrap();
                age(&tmp.join(node).join(ALIVE), Duration::from_secs(secs));
            }
        }
        std::fs::write(tmp.join("old.part"), b"x").unwrap();
        age(
            &tmp.join("old.part"),
            STALE_LOOSE_TMP + Duration::from_secs(60),
        );
        std::fs::write(tmp.join("recent.part"), b"x").unwrap();

        let store = FsBlobs::open_shared(dir.path()).unwrap();
        assert!(
            !tmp.join("node-dead").exists(),
            "a dead node's leftovers go"
        );
        assert!(!tmp.join("old.part").exists());
        for kept in ["node-live/x.part", "node-new/x.part", "recent.part"] {
            assert!(tmp.join(kept).exists(), "{kept} must stay");
        }
        // This node beats, and its dir goes when the store is dropped.
        let own = store.temp_dir().to_path_buf();
        assert!(own.join(ALIVE).exists());
        drop(store);
        assert!(!own.exists());
        assert!(tmp.join("node-live").exists());
    }

    #[tokio::test]
    async fn shared_writer_recreates_a_removed_temp_dir() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsBlobs::open_shared(dir.path()).unwrap();
        // Another node thought this one dead (a long pause) and removed its dir.
        std::fs::remove_dir_all(store.temp_dir()).unwrap();
        let id = blob(&store, b"after a pause").await;
        assert_eq!(read_all(&store, &id).await, b"after a pause");
    }

    #[tokio::test]
    async fn embedded_open_still_empties_tmp() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("tmp")).unwrap();
        std::fs::write(dir.path().join("tmp/crashed.part"), b"x").unwrap();
        let _store = FsBlobs::open(dir.path()).unwrap();
        assert_eq!(
            std::fs::read_dir(dir.path().join("tmp")).unwrap().count(),
            0
        );
    }

    #[test]
    fn read_chunk_reads_exact_ranges_and_refuses_a_short_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let data: Vec<u8> = (0..200_000u32).map(|i| (i * 7 + i / 251) as u8).collect();
        std::fs::write(&path, &data).unwrap();
        let file = File::open(&path).unwrap();
        for (offset, len) in [(0, 1), (0, 4096), (1, 4095), (12_345, 65_536), (199_999, 1)] {
            let got = read_chunk(&file, offset, len).unwrap();
            assert_eq!(&got[..], &data[offset as usize..offset as usize + len]);
        }
        assert_eq!(&read_chunk(&file, 5, 0).unwrap()[..], b"");
        let err = read_chunk(&file, 199_000, 4096).unwrap_err();
        assert!(
            matches!(&err, StorageError::Io(e) if e.kind() == io::ErrorKind::UnexpectedEof),
            "{err:?}"
        );
    }

    #[test]
    fn shared_handle_cache_expires() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"abc").unwrap();
        let file = Arc::new(File::open(&path).unwrap());
        let cache = OpenBlobs {
            ttl: Some(Duration::ZERO),
            ..OpenBlobs::default()
        };
        let id = BlobId::generate();
        cache.insert(&id, &file, 3);
        std::thread::sleep(Duration::from_millis(2));
        assert!(cache.get(&id).is_none(), "an expired handle is not used");
        // Inserting closes expired handles (oldest first).
        let id2 = BlobId::generate();
        cache.insert(&id, &file, 3);
        std::thread::sleep(Duration::from_millis(2));
        cache.insert(&id2, &file, 3);
        let inner = cache.inner.lock().unwrap();
        assert!(!inner.files.contains_key(&id));
        assert!(inner.files.contains_key(&id2));
    }
}
