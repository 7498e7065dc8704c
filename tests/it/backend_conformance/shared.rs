//! Conformance cases for what several nodes share through the index:
//! deferred blob deletes (the collector's queue), leases of background jobs
//! and secrets (`MetaStore::defer_blob_deletes` .. `secret_or_init`).

use super::*;

fn ids(n: usize) -> Vec<BlobId> {
    let mut v: Vec<BlobId> = (0..n).map(|_| BlobId::generate()).collect();
    v.sort();
    v
}

pub(super) async fn deferred_deletes_queue(env: Env) {
    let m = env.store.meta();
    assert_eq!(m.blob_delete_backlog().await.unwrap(), 0);
    assert!(m.due_blob_deletes(i64::MAX, 10).await.unwrap().is_empty());
    m.defer_blob_deletes(&[], 5).await.unwrap();
    m.forget_blob_deletes(&[]).await.unwrap();

    let v = ids(4);
    let (a, b, c, d) = (&v[0], &v[1], &v[2], &v[3]);
    m.defer_blob_deletes(&[a.clone(), b.clone(), a.clone()], 100)
        .await
        .unwrap();
    m.defer_blob_deletes(std::slice::from_ref(c), 50)
        .await
        .unwrap();
    m.defer_blob_deletes(std::slice::from_ref(d), -20)
        .await
        .unwrap();
    assert_eq!(
        m.blob_delete_backlog().await.unwrap(),
        4,
        "duplicates count once"
    );

    // (now, limit) → due ids, oldest first, then by id.
    let cases: &[(i64, usize, Vec<&BlobId>)] = &[
        (-21, 10, vec![]),
        (-20, 10, vec![d]),
        (49, 10, vec![d]),
        (50, 10, vec![d, c]),
        (99, 10, vec![d, c]),
        (100, 10, vec![d, c, a, b]),
        (i64::MAX, 10, vec![d, c, a, b]),
        (100, 3, vec![d, c, a]),
        (100, 1, vec![d]),
        (100, 0, vec![]),
    ];
    for (now, limit, want) in cases {
        let got = m.due_blob_deletes(*now, *limit).await.unwrap();
        let want: Vec<BlobId> = want.iter().map(|x| (*x).clone()).collect();
        assert_eq!(got, want, "due at {now}, limit {limit}");
    }
    // Reading does not consume.
    assert_eq!(m.blob_delete_backlog().await.unwrap(), 4);

    // Deferring again keeps the later due time.
    m.defer_blob_deletes(std::slice::from_ref(a), 10)
        .await
        .unwrap();
    assert_eq!(
        m.due_blob_deletes(99, 10).await.unwrap(),
        vec![d.clone(), c.clone()]
    );
    m.defer_blob_deletes(std::slice::from_ref(a), 200)
        .await
        .unwrap();
    assert_eq!(
        m.due_blob_deletes(150, 10).await.unwrap(),
        vec![d.clone(), c.clone(), b.clone()],
        "a moved to 200"
    );
    assert_eq!(
        m.due_blob_deletes(200, 10).await.unwrap(),
        vec![d.clone(), c.clone(), b.clone(), a.clone()]
    );
    assert_eq!(m.blob_delete_backlog().await.unwrap(), 4);

    // Forget: unknown ids are ignored.
    let stranger = BlobId::generate();
    m.forget_blob_deletes(&[c.clone(), stranger]).await.unwrap();
    assert_eq!(m.blob_delete_backlog().await.unwrap(), 3);
    assert_eq!(
        m.due_blob_deletes(i64::MAX, 10).await.unwrap(),
        vec![d.clone(), b.clone(), a.clone()]
    );
    m.forget_blob_deletes(&v).await.unwrap();
    assert_eq!(m.blob_delete_backlog().await.unwrap(), 0);
    assert!(m.due_blob_deletes(i64::MAX, 10).await.unwrap().is_empty());

    // A forgotten id can be deferred again.
    m.defer_blob_deletes(std::slice::from_ref(c), 7)
        .await
        .unwrap();
    assert_eq!(m.due_blob_deletes(7, 10).await.unwrap(), vec![c.clone()]);

    // Many at once (one transaction), and concurrent deferrers.
    let many = ids(500);
    m.defer_blob_deletes(&many, 1).await.unwrap();
    let mut tasks = Vec::new();
    for chunk in many.chunks(50) {
        let (m, chunk) = (m.clone(), chunk.to_vec());
        tasks.push(tokio::spawn(async move {
            m.defer_blob_deletes(&chunk, 3).await.unwrap()
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(m.blob_delete_backlog().await.unwrap(), 501);
    assert_eq!(
        m.due_blob_deletes(2, 1000).await.unwrap(),
        Vec::<BlobId>::new()
    );
    assert_eq!(
        m.due_blob_deletes(3, 1000).await.unwrap(),
        many,
        "same due: by id"
    );
    let all = m.due_blob_deletes(7, 1000).await.unwrap();
    assert_eq!(all.len(), 501);
    assert_eq!(all.last(), Some(c));
    m.forget_blob_deletes(&all).await.unwrap();
    assert_eq!(m.blob_delete_backlog().await.unwrap(), 0);
}

pub(super) async fn leases_expire_and_move(env: Env) {
    let m = env.store.meta();
    // (name, holder, now, ttl) → holds after the call.
    let steps: &[(&str, &str, i64, i64, bool)] = &[
        ("gc", "n1", 1000, 500, true),    // free: taken until 1500
        ("gc", "n2", 1200, 500, false),   // n1's, not expired
        ("gc", "n1", 1400, 500, true),    // renewed until 1900
        ("gc", "n2", 1899, 500, false),   // still n1's
        ("other", "n2", 1899, 500, true), // names are independent
        ("gc", "n2", 1900, 500, true),    // expired: n2 takes it until 2400
        ("gc", "n1", 1950, 500, false),   // n1 lost it
        ("gc", "n1", 2399, 1, false),
        ("gc", "n2", 2000, 0, false),  // n2 gives it up
        ("gc", "n1", 2001, 500, true), // free again at once
        ("gc", "n2", 2002, -5, false), // not n2's: untouched
        ("gc", "n1", 2003, 100, true),
        ("gc", "n1", 2003, 100, true), // idempotent
    ];
    for (i, (name, holder, now, ttl, want)) in steps.iter().enumerate() {
        let got = m.lease(name, holder, *now, *ttl).await.unwrap();
        assert_eq!(got, *want, "step {i}: {holder} asks for {name} at {now}");
    }

    // Racing takers of a free lease: exactly one wins.
    let mut tasks = Vec::new();
    for i in 0..12 {
        let m = m.clone();
        tasks.push(tokio::spawn(async move {
            m.lease("race", &format!("node-{i}"), 10_000, 60_000)
                .await
                .unwrap()
        }));
    }
    let mut winners = 0;
    for t in tasks {
        winners += t.await.unwrap() as usize;
    }
    assert_eq!(winners, 1, "one holder per lease");
}

pub(super) async fn secrets_first_writer_wins(env: Env) {
    let m = env.store.meta();
    let a = m.secret_or_init("sse", b"first".to_vec()).await.unwrap();
    assert_eq!(a, b"first");
    let b = m.secret_or_init("sse", b"second".to_vec()).await.unwrap();
    assert_eq!(b, b"first", "the stored value wins");
    let other = m.secret_or_init("creds", vec![0, 255, 7]).await.unwrap();
    assert_eq!(other, vec![0, 255, 7], "names are independent, bytes kept");
    let empty = m.secret_or_init("empty", Vec::new()).await.unwrap();
    assert!(empty.is_empty());
    assert!(m
        .secret_or_init("empty", b"x".to_vec())
        .await
        .unwrap()
        .is_empty());

    // Racing initialisers all see one value.
    let mut tasks = Vec::new();
    for i in 0..12u8 {
        let m = m.clone();
        tasks.push(tokio::spawn(async move {
            m.secret_or_init("race", vec![i; 32]).await.unwrap()
        }));
    }
    let mut seen = HashSet::new();
    for t in tasks {
        seen.insert(t.await.unwrap());
    }
    assert_eq!(seen.len(), 1, "{seen:?}");
    let v = seen.into_iter().next().unwrap();
    assert_eq!(m.secret_or_init("race", vec![99]).await.unwrap(), v);
}
