//! Single-link traffic limits (`x-cos-traffic-limit`, spec cos.md §6 and
//! §6A.9; https://cloud.tencent.com/document/product/436/40140): validation
//! and [`pace`], a body-stream adapter that holds a stream to a rate.
//!
//! Pacing is a schedule on tokio time, never a blocked thread: byte `n` of
//! the body may leave no earlier than `start + n / rate`, so timer lateness
//! never accumulates and other requests run meanwhile. It wraps response
//! bodies (GET) and request bodies (PUT) alike; other dialects
//! (`x-oss-traffic-limit`) reuse [`parse_limit`] with their own range and [`pace`].

use std::future::Future;
use std::ops::RangeInclusive;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use http::HeaderMap;
use tokio::time::{Instant, Sleep};

use crate::error::{Error, ErrorCode, Result};
use crate::http::query::Query;
use crate::storage::{ByteStream, StorageError};

pub const X_COS_TRAFFIC_LIMIT: &str = "x-cos-traffic-limit";

/// COS's valid range in bit/s: 100 KB/s to 100 MB/s (§6).
pub const COS_RANGE: RangeInclusive<u64> = 819_200..=838_860_800;

/// A limit value in bit/s: digits within `range`; anything else (not a
/// number, 0, out of range) → 400 InvalidArgument.
pub fn parse_limit(value: &str, range: RangeInclusive<u64>, name: &str) -> Result<u64> {
    let invalid = || {
        Error::with_message(
            ErrorCode::InvalidArgument,
            format!(
                "{name} must be a number of bit/s from {} to {}.",
                range.start(),
                range.end()
            ),
        )
    };
    let v = value.trim();
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid());
    }
    let n: u64 = v.parse().map_err(|_| invalid())?;
    if range.contains(&n) {
        Ok(n)
    } else {
        Err(invalid())
    }
}

/// The request's COS traffic limit: the `x-cos-traffic-limit` header, else
/// the query parameter of that name (pre-signed URLs); the header wins (§6A.9).
pub fn cos_limit(h: &HeaderMap, q: &Query) -> Result<Option<u64>> {
    // An empty header counts as absent (header.rs); present but not text is invalid.
    let raw = match h.get(X_COS_TRAFFIC_LIMIT) {
        Some(v) if !v.as_bytes().iter().all(u8::is_ascii_whitespace) => {
            Some(std::str::from_utf8(v.as_bytes()).unwrap_or("?"))
        }
        _ => q.get(X_COS_TRAFFIC_LIMIT),
    };
    raw.map(|v| parse_limit(v, COS_RANGE, X_COS_TRAFFIC_LIMIT))
        .transpose()
}

/// Holds `stream` to `bits_per_second` (see the module docs).
pub fn pace(stream: ByteStream, bits_per_second: u64) -> ByteStream {
    let bytes_per_second = (bits_per_second / 8).max(1);
    // Hand out at most 1/20 s worth of bytes at a time, so the rate is
    // smooth at any moment, not only on average.
    let slice = usize::try_from(bytes_per_second / 20)
        .unwrap_or(usize::MAX)
        .max(1024);
    Box::pin(Paced {
        inner: stream,
        bytes_per_second,
        slice,
        pending: Bytes::new(),
        start: None,
        sent: 0,
        sleep: None,
    })
}

struct Paced {
    inner: ByteStream,
    bytes_per_second: u64,
    slice: usize,
    /// Bytes taken from `inner` and not handed out yet.
    pending: Bytes,
    /// When the first byte was handed out.
    start: Option<Instant>,
    sent: u64,
    sleep: Option<Pin<Box<Sleep>>>,
}

impl Paced {
    /// The earliest moment byte number `self.sent` may leave.
    fn due(&self, start: Instant) -> Instant {
        let micros = u128::from(self.sent) * 1_000_000 / u128::from(self.bytes_per_second);
        start + Duration::from_micros(u64::try_from(micros).unwrap_or(u64::MAX / 2))
    }
}

impl Stream for Paced {
    type Item = Result<Bytes, StorageError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            if let Some(sleep) = this.sleep.as_mut() {
                ready!(sleep.as_mut().poll(cx));
                this.sleep = None;
            }
            if this.pending.is_empty() {
                match ready!(this.inner.poll_next_unpin(cx)) {
                    Some(Ok(chunk)) => this.pending = chunk,
                    other => return Poll::Ready(other),
                }
                continue;
            }
            let now = Instant::now();
            let start = *this.start.get_or_insert(now);
            let due = this.due(start);
            if due > now {
                this.sleep = Some(Box::pin(tokio::time::sleep_until(due)));
                continue;
            }
            let n = this.slice.min(this.pending.len());
            let out = this.pending.split_to(n);
            this.sent += n as u64;
            return Poll::Ready(Some(Ok(out)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_table() {
        let ok = |v: &str| parse_limit(v, COS_RANGE, X_COS_TRAFFIC_LIMIT).ok();
        for (value, want) in [
            ("819200", Some(819_200)),
            ("838860800", Some(838_860_800)),
            ("8388608", Some(8_388_608)),
            (" 1000000 ", Some(1_000_000)),
            ("819199", None),
            ("838860801", None),
            ("0", None),
            ("", None),
            ("-819200", None),
            ("+819200", None),
            ("819200.5", None),
            ("1e6", None),
            ("abc", None),
            ("99999999999999999999999", None),
        ] {
            assert_eq!(ok(value), want, "{value:?}");
        }
        let e = parse_limit("1", COS_RANGE, X_COS_TRAFFIC_LIMIT).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidArgument);
        assert!(e.message().contains("819200"), "{}", e.message());
    }

    #[test]
    fn header_wins_over_query() {
        let q = |s: &str| Query::parse(Some(s)).unwrap();
        let mut h = HeaderMap::new();
        assert_eq!(cos_limit(&h, &q("")).unwrap(), None);
        assert_eq!(
            cos_limit(&h, &q("x-cos-traffic-limit=1000000")).unwrap(),
            Some(1_000_000)
        );
        assert!(cos_limit(&h, &q("x-cos-traffic-limit=5")).is_err());
        h.insert(X_COS_TRAFFIC_LIMIT, "2000000".parse().unwrap());
        assert_eq!(
            cos_limit(&h, &q("x-cos-traffic-limit=5")).unwrap(),
            Some(2_000_000)
        );
        assert!(cos_limit(&HeaderMap::new(), &q("x-cos-traffic-limit=")).is_err());
        h.insert(X_COS_TRAFFIC_LIMIT, "".parse().unwrap());
        assert_eq!(
            cos_limit(&h, &q("")).unwrap(),
            None,
            "empty header = absent"
        );
        h.insert(X_COS_TRAFFIC_LIMIT, "100".parse().unwrap());
        assert!(cos_limit(&h, &q("x-cos-traffic-limit=1000000")).is_err());
    }

    /// On tokio's paused clock: 1 s of bytes at the limit takes 1 s (less
    /// the last slice), whatever the source's chunking.
    #[tokio::test(start_paused = true)]
    async fn pace_holds_the_rate() {
        let rate_bits = 819_200u64; // 102,400 bytes/s
        let chunks: Vec<Result<Bytes, StorageError>> =
            (0..4).map(|_| Ok(Bytes::from(vec![7u8; 51_200]))).collect();
        let total: usize = 4 * 51_200; // 2 s worth
        let mut s = pace(Box::pin(futures_util::stream::iter(chunks)), rate_bits);
        let t0 = Instant::now();
        let mut got = 0usize;
        let mut max_piece = 0usize;
        while let Some(c) = s.next().await {
            let c = c.unwrap();
            max_piece = max_piece.max(c.len());
            got += c.len();
            // Never ahead of schedule.
            let allowed = (t0.elapsed().as_secs_f64() * 102_400.0).ceil() as usize + max_piece;
            assert!(got <= allowed, "{got} > {allowed}");
        }
        assert_eq!(got, total);
        assert_eq!(max_piece, 5_120, "1/20 s slices");
        let took = t0.elapsed().as_secs_f64();
        assert!((1.9..=2.0).contains(&took), "took {took}");
    }

    #[tokio::test(start_paused = true)]
    async fn pace_passes_errors_and_end() {
        let items: Vec<Result<Bytes, StorageError>> = vec![
            Ok(Bytes::from_static(b"ab")),
            Ok(Bytes::new()),
            Err(StorageError::ClientTimeout),
        ];
        let mut s = pace(Box::pin(futures_util::stream::iter(items)), 819_200);
        assert_eq!(s.next().await.unwrap().unwrap(), Bytes::from_static(b"ab"));
        assert!(matches!(
            s.next().await,
            Some(Err(StorageError::ClientTimeout))
        ));
        assert!(s.next().await.is_none());
    }
}
