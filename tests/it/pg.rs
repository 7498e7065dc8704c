//! Cluster mode's PostgreSQL index beyond the behaviour suite (which runs
//! every case against `PgMeta` too): migrations under concurrent starts,
//! two nodes on one database, and an unreachable database (fail fast with
//! 503 COS XML, recover by itself).

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common::proxy::Proxy;
use crate::common::{self, pg, R};
use localcos::config::{Config, ServeArgs};
use localcos::storage::memory::MemoryBlobs;
use localcos::storage::pg::{migrate::MIGRATIONS, PgMeta};
use localcos::storage::{
    BlobStore, BucketRecord, MetaStore, PutOptions, StorageError, Store, WriteCondition,
};

const B: &str = "examplebucket-1250000000";

async fn sql(url: &str, query: &str) -> Vec<tokio_postgres::Row> {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    client.query(query, &[]).await.unwrap()
}

fn bucket(name: &str) -> BucketRecord {
    BucketRecord {
        name: name.to_string(),
        region: "ap-guangzhou".into(),
        created_ms: 1_700_000_000_000,
        versioning: Default::default(),
        acl: None,
        configs: Default::default(),
        layout: Default::default(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_starts_migrate_once() {
    let url = pg::fresh_db().await;
    let opens: Vec<_> = (0..4)
        .map(|_| {
            let url = url.clone();
            tokio::spawn(async move { PgMeta::open(&url, Duration::from_secs(10)).await })
        })
        .collect();
    let mut metas = Vec::new();
    for o in opens {
        metas.push(o.await.unwrap().expect("every node starts"));
    }
    let rows = sql(
        &url,
        "SELECT version FROM schema_migrations ORDER BY version",
    )
    .await;
    let applied: Vec<i32> = rows.iter().map(|r| r.get(0)).collect();
    let want: Vec<i32> = MIGRATIONS.iter().map(|m| m.0).collect();
    assert_eq!(applied, want);
    // Every node works on the one schema.
    metas[0].create_bucket(bucket(B)).await.unwrap();
    assert!(metas[3].bucket(B).await.unwrap().is_some());
    // A restart applies nothing again.
    drop(metas);
    PgMeta::open(&url, Duration::from_secs(5)).await.unwrap();
    assert_eq!(
        sql(&url, "SELECT count(*) FROM schema_migrations").await[0].get::<_, i64>(0),
        MIGRATIONS.len() as i64
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn newer_schema_is_refused() {
    let url = pg::fresh_db().await;
    drop(PgMeta::open(&url, Duration::from_secs(5)).await.unwrap());
    sql(
        &url,
        "INSERT INTO schema_migrations (version, name, applied_ms) VALUES (9999, 'future', 0)",
    )
    .await;
    match PgMeta::open(&url, Duration::from_secs(5)).await {
        Err(StorageError::Format(msg)) => assert!(msg.contains("newer"), "{msg}"),
        Err(e) => panic!("unexpected error {e:?}"),
        Ok(_) => panic!("a newer schema must be refused"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_database_fails_fast() {
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let started = Instant::now();
    let r = PgMeta::open(
        &format!("postgres://postgres@127.0.0.1:{port}/none"),
        Duration::ZERO,
    )
    .await;
    assert!(
        matches!(r, Err(StorageError::Unavailable(_))),
        "{:?}",
        r.err()
    );
    assert!(started.elapsed() < Duration::from_secs(5));
}

/// Two `Store`s ("nodes") on one database and one blob store.
async fn two_nodes() -> (Store, Store, Arc<PgMeta>, Arc<PgMeta>) {
    let url = pg::fresh_db().await;
    let a = Arc::new(PgMeta::open(&url, Duration::from_secs(10)).await.unwrap());
    let b = Arc::new(PgMeta::open(&url, Duration::from_secs(10)).await.unwrap());
    let blobs: Arc<dyn BlobStore> = Arc::new(MemoryBlobs::new());
    let sa = Store::new(a.clone(), blobs.clone());
    let sb = Store::new(b.clone(), blobs);
    sa.create_bucket(bucket(B)).await.unwrap();
    (sa, sb, a, b)
}

fn body(data: Vec<u8>) -> localcos::storage::ByteStream {
    Box::pin(futures_util::stream::iter([Ok(bytes::Bytes::from(data))]))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conditional_create_across_nodes_has_one_winner() {
    let (sa, sb, _, _) = two_nodes().await;
    let mut tasks = Vec::new();
    for i in 0..12u8 {
        let s = if i % 2 == 0 { sa.clone() } else { sb.clone() };
        tasks.push(tokio::spawn(async move {
            let opts = PutOptions {
                condition: WriteCondition::IfNoneMatch,
                ..Default::default()
            };
            s.put_object(B, "race", body(vec![i; 1000]), opts).await
        }));
    }
    let mut winners = Vec::new();
    for (i, t) in tasks.into_iter().enumerate() {
        match t.await.unwrap() {
            Ok(_) => winners.push(i as u8),
            Err(StorageError::AlreadyExists) => {}
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    assert_eq!(winners.len(), 1);
    // Read-after-write through the other node.
    let rec = sb.head_object(B, "race").await.unwrap();
    assert_eq!(rec.size, 1000);
    let rec_a = sa.head_object(B, "race").await.unwrap();
    assert_eq!(rec, rec_a);
}

/// Reads share a few pipelined connections: many concurrent GET lookups on
/// one node open at most `READ_CONNECTIONS` database sessions (a GET no
/// longer takes a pool slot of its own), and each still sees the write
/// acknowledged just before it, made through another node.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_reads_share_few_connections() {
    let url = pg::fresh_db().await;
    let reader_url = format!("{url}?application_name=localcos_reads");
    let a = Arc::new(
        PgMeta::open(&reader_url, Duration::from_secs(10))
            .await
            .unwrap(),
    );
    let b = Arc::new(PgMeta::open(&url, Duration::from_secs(10)).await.unwrap());
    let blobs: Arc<dyn BlobStore> = Arc::new(MemoryBlobs::new());
    let sa = Store::new(a.clone(), blobs.clone());
    let sb = Store::new(b.clone(), blobs);
    sb.create_bucket(bucket(B)).await.unwrap();
    for round in 0..5usize {
        // A write through node b, then 64 concurrent reads through node a.
        sb.put_object(
            B,
            "k",
            body(vec![round as u8; round + 1]),
            PutOptions::default(),
        )
        .await
        .unwrap();
        let reads: Vec<_> = (0..64)
            .map(|_| {
                let a = a.clone();
                tokio::spawn(async move { a.object(B, "k").await })
            })
            .collect();
        for r in reads {
            let rec = r.await.unwrap().unwrap().expect("the object is there");
            assert_eq!(rec.size, round as u64 + 1, "read-after-write");
        }
    }
    // A missing key and a missing bucket on the shared path.
    assert!(sa.meta().object(B, "absent").await.unwrap().is_none());
    assert!(matches!(
        a.object("nosuchbucket-1250000000", "k").await,
        Err(StorageError::NoSuchBucket)
    ));
    let sessions: i64 = sql(
        &url,
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'localcos_reads'",
    )
    .await[0]
        .get(0);
    // Up to four shared read connections plus the bucket-change listener
    // (the pool would have opened up to 16 for 64 concurrent reads).
    assert!((1..=5).contains(&sessions), "{sessions} sessions");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bucket_generation_follows_other_nodes() {
    let (_sa, _sb, a, b) = two_nodes().await;
    // The listener connects in the background.
    let deadline = Instant::now() + Duration::from_secs(5);
    while b.bucket_generation().is_none() {
        assert!(Instant::now() < deadline, "listener never connected");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let before = b.bucket_generation().unwrap();
    a.update_bucket(B, Box::new(|r| r.region = "ap-beijing".into()))
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while b.bucket_generation() == Some(before) {
        assert!(Instant::now() < deadline, "no notification reached node b");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(b.bucket(B).await.unwrap().unwrap().region, "ap-beijing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_outage_is_503_then_recovers() {
    let direct = pg::fresh_db().await;
    let server = pg::server();
    let mut proxy = Proxy::start(([127, 0, 0, 1], server.port).into()).await;
    let url = direct.replace(
        &format!("127.0.0.1:{}", server.port),
        &format!("127.0.0.1:{}", proxy.port),
    );
    let scratch = tempfile::tempdir().unwrap();
    let blobs = tempfile::tempdir().unwrap();
    let args = ServeArgs {
        listen: Some("127.0.0.1:0".into()),
        data_dir: Some(scratch.path().to_path_buf()),
        meta_url: Some(url),
        blob_store: Some(blobs.path().display().to_string()),
        secret_id: Some(common::ID.into()),
        secret_key: Some(common::KEY.into()),
        ..Default::default()
    };
    let config = Config::from_parts(&args, Default::default()).unwrap();
    let app = common::app_with(config).await;
    app.put("k", b"hello").await;
    assert_eq!(app.send(R::get("k")).await.status, 200);
    // The pool's use is on /-/metrics (issue 11: "database pool use in cluster mode").
    let r = app
        .send(
            R::get("")
                .anonymous()
                .host("127.0.0.1:9000")
                .raw_path("/-/metrics"),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let text = r.text();
    assert!(
        text.contains("localcos_db_pool_max_connections{state=\"max\"} 16"),
        "{text}"
    );
    assert!(
        text.contains("localcos_db_pool_connections{state=\"idle\"}"),
        "{text}"
    );

    proxy.cut().await;
    for _ in 0..3 {
        let started = Instant::now();
        let r = app.send(R::get("k")).await;
        assert_eq!(r.status, 503, "{}", r.text());
        assert!(
            r.text().contains("<Code>ServiceUnavailable</Code>"),
            "{}",
            r.text()
        );
        assert!(r.headers.contains_key("x-cos-request-id"));
        assert!(
            started.elapsed() < Duration::from_secs(6),
            "{:?}",
            started.elapsed()
        );
        let r = app.send(R::put("k2", b"x".to_vec())).await;
        assert_eq!(r.status, 503, "{}", r.text());
    }

    // The database is back: the node recovers without a restart.
    proxy.restore().await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = app.send(R::get("k")).await;
        if r.status == 200 {
            assert_eq!(&r.body[..], b"hello");
            break;
        }
        assert_eq!(r.status, 503, "{}", r.text());
        assert!(Instant::now() < deadline, "no recovery");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    app.put("k2", b"again").await;
}
