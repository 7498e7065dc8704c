//! The log writer: request threads append formatted lines to one shared
//! buffer, and a thread of its own writes that buffer to stderr in batches.
//!
//! Why not `tracing_appender::non_blocking`: it allocates a `Vec` per line,
//! sends it through a channel and wakes its worker for nearly every line, so
//! under load each access-log line cost a futex wake-up and a context switch
//! on the CPU that also serves the requests (`benches/observability.rs`: the
//! issue's budget for metrics plus access log is 5% of a 4 KiB GET). Here a
//! line is formatted or copied into it under an uncontended mutex (into
//! cache lines fetched ahead, [`prefetch_for_write`]); the worker is woken
//! only when the buffer goes from empty to non-empty, and after each write
//! it waits [`BATCH_DELAY`] (or until [`EARLY_WRITE`] bytes wait), so that
//! a busy server makes a few dozen writes a second however many lines it
//! logs. An idle server's first line goes out at once.
//!
//! No line is dropped: a writer finding [`MAX_BUFFERED`] bytes waiting (a
//! stderr that cannot keep up) waits for the worker. [`LogGuard`]'s drop
//! flushes what is buffered, waiting up to a second for a blocked stderr.

use std::io::Write;
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

/// How long the worker lets lines gather after a write. Each write(2) to
/// a file costs a wake-up, two context switches and a journal update of the
/// inode's times whatever its size: at 5 ms that was a third of the access
/// log's cost under load (benches/observability.rs); a line waits at most
/// this long, and the first line after a quiet spell goes out at once.
const BATCH_DELAY: Duration = Duration::from_millis(50);

/// Bytes waiting beyond which writers wait for the worker.
const MAX_BUFFERED: usize = 8 << 20;

/// Bytes waiting at which the worker writes without waiting out
/// [`BATCH_DELAY`], so that a burst does not fill the buffer and stall its
/// writers. Large, because every write has a cost of its own: at 64 KiB a
/// server answering 57,000 4 KiB GETs a second wrote 200 times a second,
/// and metrics plus access log cost 8.7% of a request, against 5.3–6.2% at
/// 1 MiB, where the 50 ms delay decides: about 20 writes a second
/// (benches/observability.rs).
const EARLY_WRITE: usize = 1 << 20;

/// How long the guard waits for the last lines to be written.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(1);

#[derive(Default)]
struct State {
    buf: Vec<u8>,
    closed: bool,
    worker_waiting: bool,
}

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    /// Signalled when lines arrive in an empty buffer or at close.
    work: Condvar,
    /// Signalled when the worker has taken the buffer.
    room: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves a buffer that is still valid.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Where log lines are written: cheap to clone, one per layer.
#[derive(Clone)]
pub struct BatchWriter {
    shared: Arc<Shared>,
}

/// Flushes and stops the worker when dropped (keep it until exit).
pub struct LogGuard {
    shared: Arc<Shared>,
    done: mpsc::Receiver<()>,
}

impl BatchWriter {
    /// A writer to `out` and the guard that flushes it. The worker thread
    /// is named `localcos-log`.
    pub fn new<W: Write + Send + 'static>(out: W) -> (BatchWriter, LogGuard) {
        let shared = Arc::new(Shared::default());
        let (tx, done) = mpsc::channel();
        let worker = shared.clone();
        let spawned = std::thread::Builder::new()
            .name("localcos-log".into())
            .spawn(move || {
                work(&worker, out);
                let _ = tx.send(());
            });
        if let Err(e) = spawned {
            // Without a thread nothing is written; say so once, where we can.
            eprintln!("localcos: cannot start the log writer thread: {e}");
        }
        (
            BatchWriter {
                shared: shared.clone(),
            },
            LogGuard { shared, done },
        )
    }

    fn append(&self, bytes: &[u8]) {
        self.append_with(|buf| buf.extend_from_slice(bytes));
    }

    /// Lets `write` append one or more whole lines to the shared buffer,
    /// under its lock: the access log formats its line there directly, with
    /// no copy through a buffer of its own. `write` must only append, and
    /// must not log (the lock is held; the next event would wait on itself).
    pub fn append_with(&self, write: impl FnOnce(&mut Vec<u8>)) {
        let mut state = self.shared.lock();
        while state.buf.len() >= MAX_BUFFERED && !state.closed {
            state = self
                .shared
                .room
                .wait(state)
                .unwrap_or_else(|e| e.into_inner());
        }
        let before = state.buf.len();
        write(&mut state.buf);
        prefetch_for_write(state.buf.spare_capacity_mut());
        // Wake the worker for the first line after a quiet spell, and cut
        // its batching wait short once EARLY_WRITE bytes wait.
        if (before == 0 && state.worker_waiting)
            || (before < EARLY_WRITE && state.buf.len() >= EARLY_WRITE)
        {
            self.shared.work.notify_one();
        }
    }
}

/// How far past its end the buffer is fetched for the next lines (a few
/// access-log lines).
const PREFETCH: usize = 512;

/// Asks the CPU to fetch the first [`PREFETCH`] bytes of `spare` into its
/// cache, for writing, so that the next line appended finds them there.
///
/// Why: the buffer is a megabyte or more that was last touched by the
/// worker's write tens of milliseconds ago, so each line's copy missed the
/// cache on every 64-byte line it wrote, and the mutex's unlock (a locked
/// `xchg`, which waits for earlier stores) waited for those misses. Under
/// the observability bench's load `perf` put 200 ns per request on that
/// `xchg`; with this prefetch the append costs 48 ns. The next line comes
/// microseconds later, so the fetch is done by then. Inline asm because the
/// stable intrinsic, `_mm_prefetch::<_MM_HINT_ET0>`, compiles to a read
/// prefetch (`prefetcht0`) unless the build enables the `prfchw` feature,
/// which default x86-64 builds do not; CPUs without `prefetchw` treat it as
/// a no-op.
#[inline]
fn prefetch_for_write(spare: &[std::mem::MaybeUninit<u8>]) {
    #[cfg(target_arch = "x86_64")]
    for offset in (0..spare.len().min(PREFETCH)).step_by(64) {
        // SAFETY: `prefetchw` only hints the cache: it changes no register,
        // flag or memory and never faults; the address is inside `spare`.
        unsafe {
            std::arch::asm!(
                "prefetchw [{0}]",
                in(reg) spare.as_ptr().add(offset),
                options(nostack, preserves_flags, readonly)
            );
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = spare;
}

/// The worker: takes the whole buffer, writes it, lets lines gather.
fn work<W: Write>(shared: &Shared, mut out: W) {
    let mut batch = Vec::with_capacity(64 << 10);
    loop {
        {
            let mut state = shared.lock();
            while state.buf.is_empty() && !state.closed {
                state.worker_waiting = true;
                state = shared.work.wait(state).unwrap_or_else(|e| e.into_inner());
                state.worker_waiting = false;
            }
            if state.buf.is_empty() {
                return; // closed and flushed
            }
            std::mem::swap(&mut state.buf, &mut batch);
            shared.room.notify_all();
        }
        // A failing stderr (closed pipe) loses its lines; nothing else can be done.
        let _ = out.write_all(&batch).and_then(|()| out.flush());
        batch.clear();
        if batch.capacity() > MAX_BUFFERED {
            batch.shrink_to(64 << 10);
        }
        // Let lines gather; a close, or EARLY_WRITE bytes waiting, cuts the
        // wait short.
        let state = shared.lock();
        if !state.closed {
            let _ = shared.work.wait_timeout_while(state, BATCH_DELAY, |s| {
                !s.closed && s.buf.len() < EARLY_WRITE
            });
        }
    }
}

impl Drop for LogGuard {
    fn drop(&mut self) {
        {
            let mut state = self.shared.lock();
            state.closed = true;
            self.shared.work.notify_all();
            self.shared.room.notify_all();
        }
        let _ = self.done.recv_timeout(FLUSH_TIMEOUT);
    }
}

/// One event's writes (the `fmt` layer writes a whole line at a time).
pub struct LineWriter<'a>(&'a BatchWriter);

impl Write for LineWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.append(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for BatchWriter {
    type Writer = LineWriter<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        LineWriter(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A Write that hands what it got to the test.
    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<Vec<u8>>>);

    impl Write for Sink {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn lines_from_many_threads_arrive_whole_and_all_by_the_guard() {
        let sink = Sink::default();
        let (writer, guard) = BatchWriter::new(sink.clone());
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let writer = writer.clone();
                std::thread::spawn(move || {
                    for i in 0..5000 {
                        let line = format!("thread {t} line {i} {}\n", "x".repeat(i % 50));
                        writer.append(line.as_bytes());
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        drop(guard);
        let text = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 20_000);
        for t in 0..4 {
            let mine: Vec<usize> = lines
                .iter()
                .filter_map(|l| l.strip_prefix(&format!("thread {t} line ")))
                .map(|rest| rest.split(' ').next().unwrap().parse().unwrap())
                .collect();
            assert_eq!(
                mine,
                (0..5000).collect::<Vec<_>>(),
                "thread {t} in order, none lost"
            );
        }
    }

    #[test]
    fn an_idle_writer_sends_a_line_without_waiting_for_the_guard() {
        let sink = Sink::default();
        let (writer, _guard) = BatchWriter::new(sink.clone());
        writer.append(b"first\n");
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while sink.0.lock().unwrap().is_empty() {
            assert!(std::time::Instant::now() < deadline, "line never written");
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(&*sink.0.lock().unwrap(), b"first\n");
    }

    /// Right after a write the worker lets lines gather for BATCH_DELAY; a
    /// burst of EARLY_WRITE bytes is written without waiting that out.
    #[test]
    fn a_burst_cuts_the_batching_wait_short() {
        let sink = Sink::default();
        let (writer, _guard) = BatchWriter::new(sink.clone());
        let arrived = |len: usize| {
            let deadline = std::time::Instant::now() + Duration::from_secs(5);
            while sink.0.lock().unwrap().len() < len {
                assert!(std::time::Instant::now() < deadline, "never written");
                std::thread::sleep(Duration::from_micros(200));
            }
        };
        let burst = vec![b'x'; EARLY_WRITE];
        let mut total = 0;
        // Timing on a busy machine can miss once; three tries must not.
        let fastest = (0..3)
            .map(|_| {
                writer.append(b"line\n");
                total += 5;
                arrived(total);
                // The worker now waits BATCH_DELAY unless cut short.
                let start = std::time::Instant::now();
                writer.append(&burst);
                total += burst.len();
                arrived(total);
                start.elapsed()
            })
            .min()
            .unwrap();
        assert!(fastest < BATCH_DELAY / 2, "{fastest:?}");
    }

    #[test]
    fn a_full_buffer_makes_writers_wait_instead_of_dropping() {
        /// A stderr that takes 50 ms per write.
        struct Slow(Sink);
        impl Write for Slow {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                std::thread::sleep(Duration::from_millis(50));
                self.0.write(buf)
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let sink = Sink::default();
        let (writer, guard) = BatchWriter::new(Slow(sink.clone()));
        let chunk = vec![b'y'; 1 << 20];
        for _ in 0..24 {
            writer.append(&chunk);
        }
        drop(guard);
        assert_eq!(sink.0.lock().unwrap().len(), 24 << 20);
    }
}
