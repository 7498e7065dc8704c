//! End to end: `localcos serve --meta-url postgres://... --blob-store
//! s3://BUCKET/PREFIX --blob-endpoint URL`, two real nodes over one
//! PostgreSQL database (tests/it/common/pg.rs) and one SeaweedFS bucket
//! (tests/it/common/weed.rs), driven by the official AWS SDK for Rust.
//! Writes through one node are read through the other; multipart parts go
//! through both; blobs are plain objects under the prefix; large bodies
//! stream (the node's peak memory stays flat); an S3 outage answers 503
//! ServiceUnavailable (never a hang, a 500 or a 200 cut short) and the nodes
//! recover by themselves when it returns.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_credential_types::Credentials;
use aws_sdk_s3::config::{BehaviorVersion, Region};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use aws_sdk_s3::Client;
use md5::{Digest, Md5};

use crate::common::proxy::Proxy;
use crate::common::{pg, weed};

const ID: &str = "AKIDclusters3test";
const KEY: &str = "cluster-s3-test-key";
/// The bucket of the outage test (`--bucket outage` plus the default APPID).
const BUCKET: &str = "outage-1250000000";

struct Node {
    child: Child,
    addr: SocketAddr,
    _data: tempfile::TempDir,
}

impl Node {
    /// A node over `meta_url` with blobs in the SeaweedFS bucket under
    /// `prefix`, reached at `endpoint`.
    fn start(meta_url: &str, prefix: &str, endpoint: &str) -> Node {
        Node::start_with(meta_url, prefix, endpoint, &[])
    }

    fn start_with(meta_url: &str, prefix: &str, endpoint: &str, extra: &[&str]) -> Node {
        let data = tempfile::tempdir().unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_localcos"))
            .args(["serve", "--listen", "127.0.0.1:0"])
            .arg("--data-dir")
            .arg(data.path())
            .args(["--meta-url", meta_url])
            .arg("--blob-store")
            .arg(format!("s3://{}/{prefix}", weed::BUCKET))
            .args(["--blob-endpoint", endpoint])
            .args(extra)
            // Credentials for this child only (NOTES 21).
            .env_remove("AWS_SESSION_TOKEN")
            .env_remove("AWS_PROFILE")
            .env("AWS_ACCESS_KEY_ID", weed::ACCESS_KEY)
            .env("AWS_SECRET_ACCESS_KEY", weed::SECRET_KEY)
            .env("AWS_REGION", weed::REGION)
            .env("LOCALCOS_SECRET_ID", ID)
            .env("LOCALCOS_SECRET_KEY", KEY)
            .env("LOCALCOS_LOG_LEVEL", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn localcos");
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
        let addr = line
            .trim()
            .strip_prefix("localcos listening on http://")
            .unwrap_or_else(|| {
                panic!(
                    "no banner from localcos (exit: {:?}): {line:?}",
                    child.try_wait()
                )
            })
            .parse()
            .unwrap();
        Node {
            child,
            addr,
            _data: data,
        }
    }

    fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// An SDK client for this node; `retries: false` shows each answer as it is.
    fn client(&self, retries: bool) -> Client {
        let creds = Credentials::new(ID, KEY, None, None, "test");
        let mut conf = aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(self.endpoint())
            .force_path_style(true)
            .credentials_provider(creds)
            .http_client(aws_smithy_http_client::Builder::new().build_http());
        if !retries {
            conf = conf.retry_config(aws_sdk_s3::config::retry::RetryConfig::disabled());
        }
        Client::from_conf(conf.build())
    }

    /// Peak resident memory (VmHWM) in bytes.
    fn peak_rss(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let kb: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap();
        kb * 1024
    }

    async fn ready_status(&self) -> u16 {
        let url = format!("{}/-/health/ready", self.endpoint());
        match reqwest::Client::new()
            .get(url)
            .timeout(Duration::from_secs(30))
            .send()
            .await
        {
            Ok(r) => r.status().as_u16(),
            Err(_) => 0,
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn get_bytes(client: &Client, bucket: &str, key: &str) -> Vec<u8> {
    let got = client
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .unwrap();
    got.body.collect().await.unwrap().into_bytes().to_vec()
}

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u32).wrapping_mul(2_654_435_761).to_be_bytes()[1] ^ seed)
        .collect()
}

/// The blob objects SeaweedFS holds under `prefix`.
async fn blob_objects(prefix: &str) -> Vec<String> {
    let client = weed::weed().await.client();
    let mut keys = Vec::new();
    let mut token = None;
    loop {
        let page = client
            .list_objects_v2()
            .bucket(weed::BUCKET)
            .prefix(format!("{prefix}/"))
            .set_continuation_token(token)
            .send()
            .await
            .unwrap();
        keys.extend(
            page.contents()
                .iter()
                .filter_map(|o| o.key().map(String::from)),
        );
        token = page.next_continuation_token().map(String::from);
        if token.is_none() {
            return keys;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_share_an_s3_blob_store() {
    let meta_url = pg::fresh_db().await;
    let weed = weed::weed().await;
    let prefix = weed::fresh_prefix("e2e");
    let a = Node::start(&meta_url, &prefix, &weed.endpoint);
    let b = Node::start(&meta_url, &prefix, &weed.endpoint);
    let (sa, sb) = (a.client(true), b.client(true));
    let bucket = "s3blobs";
    sa.create_bucket().bucket(bucket).send().await.unwrap();

    // Small object: PUT on A, GET and HEAD on B at once.
    let put = sa
        .put_object()
        .bucket(bucket)
        .key("small.txt")
        .body(ByteStream::from_static(b"hello from node a"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        put.e_tag(),
        Some(format!("\"{:x}\"", Md5::digest(b"hello from node a")).as_str())
    );
    assert_eq!(
        get_bytes(&sb, bucket, "small.txt").await,
        b"hello from node a"
    );
    let head = sb
        .head_object()
        .bucket(bucket)
        .key("small.txt")
        .send()
        .await
        .unwrap();
    assert_eq!(head.content_length(), Some(17));

    // 20 MiB through B (a multipart blob upload of 8 MiB parts on the S3
    // side), read back whole and by range through A.
    let big = pattern((20 << 20) + 7, 5);
    sb.put_object()
        .bucket(bucket)
        .key("dir/big.bin")
        .body(ByteStream::from(big.clone()))
        .send()
        .await
        .unwrap();
    let got = get_bytes(&sa, bucket, "dir/big.bin").await;
    assert_eq!(got.len(), big.len());
    assert!(Md5::digest(&got) == Md5::digest(&big));
    let ranged = sa
        .get_object()
        .bucket(bucket)
        .key("dir/big.bin")
        .range("bytes=8388000-8389000")
        .send()
        .await
        .unwrap();
    assert_eq!(ranged.content_length(), Some(1001));
    let body = ranged.body.collect().await.unwrap().into_bytes();
    assert!(body[..] == big[8_388_000..=8_389_000]);

    // Multipart: initiate on A, part 1 on A, part 2 on B, complete on A.
    let part1 = pattern(5 << 20, 1);
    let part2 = pattern(1 << 20, 2);
    let up = sa
        .create_multipart_upload()
        .bucket(bucket)
        .key("mp.bin")
        .send()
        .await
        .unwrap();
    let upload_id = up.upload_id().unwrap();
    let mut parts = Vec::new();
    for (n, (client, data)) in [(&sa, &part1), (&sb, &part2)].into_iter().enumerate() {
        let r = client
            .upload_part()
            .bucket(bucket)
            .key("mp.bin")
            .upload_id(upload_id)
            .part_number(n as i32 + 1)
            .body(ByteStream::from(data.clone()))
            .send()
            .await
            .unwrap();
        parts.push(
            CompletedPart::builder()
                .part_number(n as i32 + 1)
                .e_tag(r.e_tag().unwrap())
                .build(),
        );
    }
    let done = sa
        .complete_multipart_upload()
        .bucket(bucket)
        .key("mp.bin")
        .upload_id(upload_id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(parts))
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert!(
        done.e_tag().unwrap().ends_with("-2\""),
        "{:?}",
        done.e_tag()
    );
    let whole = get_bytes(&sb, bucket, "mp.bin").await;
    assert!(whole == [part1.as_slice(), part2.as_slice()].concat());

    // Listing through B sees everything written through A and B.
    let listed = sb.list_objects_v2().bucket(bucket).send().await.unwrap();
    let keys: Vec<&str> = listed.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys, ["dir/big.bin", "mp.bin", "small.txt"]);

    // The bytes are plain objects PREFIX/<blob id> in the S3 bucket: one per
    // PUT and per part (Complete moves no bytes).
    let objects = blob_objects(&prefix).await;
    assert_eq!(objects.len(), 4, "{objects:?}");
    assert!(
        objects.iter().all(|k| k.len() == prefix.len() + 33),
        "{objects:?}"
    );

    // Deletes through A are seen through B.
    for key in ["small.txt", "dir/big.bin", "mp.bin"] {
        sa.delete_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .unwrap();
        let err = sb
            .head_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .unwrap_err();
        assert_eq!(
            err.raw_response().map(|r| r.status().as_u16()),
            Some(404),
            "{key}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_bodies_stream_through_a_node() {
    let meta_url = pg::fresh_db().await;
    let weed = weed::weed().await;
    let prefix = weed::fresh_prefix("stream");
    let node = Node::start(&meta_url, &prefix, &weed.endpoint);
    let s3 = node.client(true);
    s3.create_bucket().bucket("stream").send().await.unwrap();
    let base = node.peak_rss();

    // 192 MiB from a file (the SDK streams it), read back as a stream.
    const SIZE: usize = 192 << 20;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big");
    let mut md5 = Md5::new();
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&path).unwrap();
        for i in 0..(SIZE >> 20) {
            let chunk = pattern(1 << 20, i as u8);
            md5.update(&chunk);
            f.write_all(&chunk).unwrap();
        }
    }
    let want = md5.finalize();
    write_file(&s3, "stream", "big", &path).await;
    let got = s3
        .get_object()
        .bucket("stream")
        .key("big")
        .send()
        .await
        .unwrap();
    let mut body = got.body;
    let mut md5 = Md5::new();
    let mut n = 0usize;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.unwrap();
        n += chunk.len();
        md5.update(&chunk);
    }
    assert_eq!(n, SIZE);
    assert!(md5.finalize() == want);
    let peak = node.peak_rss();
    eprintln!(
        "node peak RSS {} MiB ({} MiB before the 192 MiB round trip)",
        peak >> 20,
        base >> 20
    );
    assert!(
        peak.saturating_sub(base) < 96 << 20,
        "a node's memory must not grow with the object: peak {} MiB, {} MiB before",
        peak >> 20,
        base >> 20
    );
}

async fn write_file(s3: &Client, bucket: &str, key: &str, path: &Path) {
    let body = ByteStream::from_path(path).await.unwrap();
    s3.put_object()
        .bucket(bucket)
        .key(key)
        .body(body)
        .send()
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_outage_is_503_and_nodes_recover() {
    let meta_url = pg::fresh_db().await;
    let weed = weed::weed().await;
    let target: SocketAddr = weed.endpoint.trim_start_matches("http://").parse().unwrap();
    let mut proxy = Proxy::start(target).await;
    let prefix = weed::fresh_prefix("outage");
    // `--bucket`: created at start, addressed by COS and S3 requests alike.
    let node = Node::start_with(&meta_url, &prefix, &proxy.url(), &["--bucket", BUCKET]);
    let s3 = node.client(false);
    s3.put_object()
        .bucket(BUCKET)
        .key("k")
        .body(ByteStream::from_static(b"survives the outage"))
        .send()
        .await
        .unwrap();
    assert_eq!(node.ready_status().await, 200);

    proxy.cut().await;
    // GET (the blob's length is known to the node: the first ranged GET is
    // what fails) and PUT: a clean 503 within the client's bounded retries.
    let t = Instant::now();
    let err = s3
        .get_object()
        .bucket(BUCKET)
        .key("k")
        .send()
        .await
        .unwrap_err();
    let raw = err
        .raw_response()
        .expect("an HTTP answer, not a transport error");
    assert_eq!(raw.status().as_u16(), 503, "{err:?}");
    // The S3 dialect's request id header (x-cos-request-id for COS requests).
    assert!(raw.headers().get("x-amz-request-id").is_some());
    let body = std::str::from_utf8(raw.body().bytes().unwrap())
        .unwrap()
        .to_string();
    assert!(body.contains("<Code>ServiceUnavailable</Code>"), "{body}");
    let err = s3
        .put_object()
        .bucket(BUCKET)
        .key("k2")
        .body(ByteStream::from_static(b"during the outage"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        err.raw_response().map(|r| r.status().as_u16()),
        Some(503),
        "{err:?}"
    );
    assert!(
        t.elapsed() < Duration::from_secs(60),
        "took {:?}",
        t.elapsed()
    );
    assert_eq!(node.ready_status().await, 503);
    // Metadata-only requests still work (PostgreSQL is up).
    let head = s3
        .head_object()
        .bucket(BUCKET)
        .key("k")
        .send()
        .await
        .unwrap();
    assert_eq!(head.content_length(), Some(19));

    proxy.restore().await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while node.ready_status().await != 200 {
        assert!(Instant::now() < deadline, "the node did not recover");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(get_bytes(&s3, BUCKET, "k").await, b"survives the outage");
    s3.put_object()
        .bucket(BUCKET)
        .key("k2")
        .body(ByteStream::from_static(b"after the outage"))
        .send()
        .await
        .unwrap();
    assert_eq!(get_bytes(&s3, BUCKET, "k2").await, b"after the outage");
}
