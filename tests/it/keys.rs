//! Stored keys (`localcos keys`, src/admin/): the admin API, scopes and
//! read-only keys through authz, revocation, rotation, live reload, the
//! master key at rest, and the real binary's `keys` command online and
//! offline.

use std::time::Duration;

use http::Method;
use localcos::config::{Config, RawConfig, ServeArgs};

use crate::common::{app_with, App, Resp, ID, KEY, R};

const SERVICE: &str = "127.0.0.1:9000";
const OTHER: &str = "otherbucket-1250000000.cos.ap-guangzhou.myqcloud.com";
const MASTER: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="; // base64 of 32 bytes
const MASTER2: &str = "ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA=";

fn config(data_dir: Option<&std::path::Path>, master: Option<&str>) -> Config {
    let args = ServeArgs {
        listen: Some("127.0.0.1:0".into()),
        ephemeral: data_dir.is_none(),
        data_dir: data_dir.map(|d| d.to_path_buf()),
        secret_id: Some(ID.into()),
        secret_key: Some(KEY.into()),
        buckets: vec!["otherbucket".into()],
        master_key: master.map(str::to_string),
        ..Default::default()
    };
    // A scoped configured key: not an owner, so no admin calls.
    let raw: RawConfig = toml::from_str(
        "[[credentials]]\nsecret_id = \"AKIDscopedconfig\"\nsecret_key = \"scoped-config-secret\"\nbuckets = [\"examplebucket\"]\n",
    )
    .unwrap();
    Config::from_parts(&args, raw).unwrap()
}

fn admin(method: Method, path: &str) -> R {
    R::new(method, "").host(SERVICE).raw_path(path)
}

fn json(r: &Resp) -> serde_json::Value {
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("application/json"));
    serde_json::from_slice(&r.body).unwrap()
}

/// Adds a key through the admin API; returns (SecretId, SecretKey).
async fn add(app: &App, body: serde_json::Value) -> (String, String) {
    let r = app
        .send(admin(Method::POST, "/-/admin/keys").with_body(&body.to_string()))
        .await;
    let v = json(&r);
    (
        v["secret_id"].as_str().unwrap().to_string(),
        v["secret_key"].as_str().unwrap().to_string(),
    )
}

#[tokio::test]
async fn added_key_works_at_once_and_revoked_key_is_refused() {
    let app = app_with(config(None, None)).await;
    app.put("seed.txt", b"seed").await;
    let (id, key) = add(&app, serde_json::json!({"description": "ci runner"})).await;
    assert!(id.starts_with("AKID") && key.len() >= 32);
    // Works for the very next request: writes and reads.
    let r = app
        .send(R::put("by-new-key.txt", "hello").signed_by(&id, &key))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = app
        .send(R::get("by-new-key.txt").signed_by(&id, &key))
        .await;
    assert_eq!((r.status, r.text().as_str()), (200, "hello"));
    // Listed without its secret.
    let r = app.send(admin(Method::GET, "/-/admin/keys")).await;
    let v = json(&r);
    assert!(!r.text().contains(&key));
    let keys = v["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0]["secret_id"], id.as_str());
    assert_eq!(keys[0]["status"], "active");
    assert_eq!(keys[0]["permission"], "read-write");
    assert_eq!(keys[0]["description"], "ci runner");
    assert_eq!(keys[0]["encrypted"], false);
    let r = app
        .send(admin(Method::GET, &format!("/-/admin/keys/{id}")))
        .await;
    assert_eq!(json(&r)["secret_id"], id.as_str());

    // Revoked: the next request is refused as an unknown key.
    let r = app
        .send(admin(Method::DELETE, &format!("/-/admin/keys/{id}")))
        .await;
    assert_eq!(json(&r)["status"], "revoked");
    app.send(R::get("seed.txt").signed_by(&id, &key))
        .await
        .assert_error(403, "InvalidAccessKeyId");
    // Configured keys keep working and cannot be revoked here.
    assert_eq!(app.send(R::get("seed.txt")).await.status, 200);
    app.send(admin(Method::DELETE, &format!("/-/admin/keys/{ID}")))
        .await
        .assert_error(400, "InvalidArgument");
    app.send(admin(Method::DELETE, "/-/admin/keys/AKIDnosuchkey"))
        .await
        .assert_error(404, "NoSuchResource");
}

#[tokio::test]
async fn scopes_and_read_only_go_through_authz() {
    let app = app_with(config(None, None)).await;
    app.put("a.txt", b"data").await;
    let (id, key) = add(&app, serde_json::json!({"buckets": ["examplebucket"]})).await;
    // Its bucket: yes; another bucket: 403 AccessDenied; ListBuckets filtered.
    let r = app.send(R::put("b.txt", "x").signed_by(&id, &key)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    app.send(R::get("a.txt").host(OTHER).signed_by(&id, &key))
        .await
        .assert_error(403, "AccessDenied");
    app.send(R::put("a.txt", "x").host(OTHER).signed_by(&id, &key))
        .await
        .assert_error(403, "AccessDenied");
    let r = app
        .send(R::get("").host(SERVICE).signed_by(&id, &key))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.text().contains("examplebucket-1250000000") && !r.text().contains("otherbucket"));

    let (ro, ro_key) = add(&app, serde_json::json!({"permission": "read-only"})).await;
    let r = app.send(R::get("a.txt").signed_by(&ro, &ro_key)).await;
    assert_eq!((r.status, r.text().as_str()), (200, "data"));
    let r = app
        .send(R::get("a.txt").host(OTHER).signed_by(&ro, &ro_key))
        .await;
    r.assert_error(404, "NoSuchKey");
    app.send(R::put("c.txt", "x").signed_by(&ro, &ro_key))
        .await
        .assert_error(403, "AccessDenied");
    app.send(R::new(Method::DELETE, "a.txt").signed_by(&ro, &ro_key))
        .await
        .assert_error(403, "AccessDenied");
    // Bad requests.
    for (body, code) in [
        (
            serde_json::json!({"permission": "write"}),
            "InvalidArgument",
        ),
        (
            serde_json::json!({"buckets": ["Bad_Name"]}),
            "InvalidArgument",
        ),
        (
            serde_json::json!({"secret_key": "short"}),
            "InvalidArgument",
        ),
        (serde_json::json!({"nonsense": 1}), "InvalidArgument"),
    ] {
        app.send(admin(Method::POST, "/-/admin/keys").with_body(&body.to_string()))
            .await
            .assert_error(400, code);
    }
    app.send(
        admin(Method::POST, "/-/admin/keys")
            .with_body(&serde_json::json!({"secret_id": id}).to_string()),
    )
    .await
    .assert_error(409, "SecretIdAlreadyExists");
}

#[tokio::test]
async fn only_configured_owner_keys_may_call_the_admin_api() {
    let app = app_with(config(None, None)).await;
    let (id, key) = add(&app, serde_json::json!({})).await;
    // A stored owner-like key, a scoped configured key, anonymous: 403.
    for r in [
        admin(Method::GET, "/-/admin/keys").signed_by(&id, &key),
        admin(Method::GET, "/-/admin/keys").signed_by("AKIDscopedconfig", "scoped-config-secret"),
        admin(Method::GET, "/-/admin/keys").anonymous(),
        admin(Method::POST, "/-/admin/keys").signed_by(&id, &key),
    ] {
        app.send(r).await.assert_error(403, "AccessDenied");
    }
    app.send(admin(Method::GET, "/-/admin/keys").signed_by(ID, "wrong-secret"))
        .await
        .assert_error(403, "SignatureDoesNotMatch");
    app.send(admin(Method::GET, "/-/admin/keys").signed_by("AKIDunknown", "x"))
        .await
        .assert_error(403, "InvalidAccessKeyId");
    app.send(admin(Method::GET, "/-/admin/nothing"))
        .await
        .assert_error(404, "NoSuchResource");
    app.send(admin(Method::PUT, "/-/admin/keys"))
        .await
        .assert_error(405, "MethodNotAllowed");
    // A Content-MD5 that does not match the body.
    app.send(
        admin(Method::POST, "/-/admin/keys")
            .h("content-md5", "1B2M2Y8AsgTpgAmY7PhCfg==")
            .with_body("{}"),
    )
    .await
    .assert_error(400, "BadDigest");
}

#[tokio::test]
async fn rotation_keeps_the_old_key_until_revoked_or_its_grace_ends() {
    let app = app_with(config(None, None)).await;
    app.put("a.txt", b"data").await;
    let (old, old_key) = add(
        &app,
        serde_json::json!({"buckets": ["examplebucket"], "permission": "read-only"}),
    )
    .await;
    let r = app
        .send(admin(Method::POST, &format!("/-/admin/keys/{old}")).q("rotate", ""))
        .await;
    let v = json(&r);
    let (new, new_key) = (
        v["secret_id"].as_str().unwrap().to_string(),
        v["secret_key"].as_str().unwrap().to_string(),
    );
    assert_ne!(new, old);
    assert_eq!(v["rotated_from"], old.as_str());
    assert_eq!(v["permission"], "read-only");
    assert_eq!(
        v["buckets"],
        serde_json::json!(["examplebucket-1250000000"])
    );
    // Both work; the new one has the same scope.
    for (id, key) in [(&old, &old_key), (&new, &new_key)] {
        assert_eq!(
            app.send(R::get("a.txt").signed_by(id, key)).await.status,
            200
        );
    }
    app.send(R::put("b.txt", "x").signed_by(&new, &new_key))
        .await
        .assert_error(403, "AccessDenied");
    // Rotating the new one with a 1 s grace: it works, then it does not.
    let r = app
        .send(
            admin(Method::POST, &format!("/-/admin/keys/{new}"))
                .q("rotate", "")
                .q("grace-seconds", "1"),
        )
        .await;
    let newest = json(&r)["secret_id"].as_str().unwrap().to_string();
    let r = app
        .send(admin(Method::GET, &format!("/-/admin/keys/{new}")))
        .await;
    assert_eq!(json(&r)["status"], "expiring");
    assert_eq!(
        app.send(R::get("a.txt").signed_by(&new, &new_key))
            .await
            .status,
        200
    );
    tokio::time::sleep(Duration::from_millis(1200)).await;
    app.send(R::get("a.txt").signed_by(&new, &new_key))
        .await
        .assert_error(403, "InvalidAccessKeyId");
    let r = app
        .send(admin(Method::GET, &format!("/-/admin/keys/{new}")))
        .await;
    assert_eq!(json(&r)["status"], "expired");
    assert_eq!(json(&r)["replaced_by"], newest.as_str());
    // grace-seconds=0 revokes the old key at once.
    app.send(
        admin(Method::POST, &format!("/-/admin/keys/{old}"))
            .q("rotate", "")
            .q("grace-seconds", "0"),
    )
    .await;
    app.send(R::get("a.txt").signed_by(&old, &old_key))
        .await
        .assert_error(403, "InvalidAccessKeyId");
    app.send(
        admin(Method::POST, &format!("/-/admin/keys/{newest}"))
            .q("rotate", "")
            .q("grace-seconds", "soon"),
    )
    .await
    .assert_error(400, "InvalidArgument");
}

#[tokio::test]
async fn keys_changed_in_the_store_by_someone_else_are_picked_up() {
    let app = app_with(config(None, None)).await;
    let state = &app.svc.state;
    let rules = localcos::admin::keys::Rules::of(&state.config);
    // Written straight into the MetaStore, as another node would.
    let (created, _) = localcos::admin::keys::add(
        state.store.meta().as_ref(),
        &rules,
        localcos::admin::keys::AddRequest::default(),
    )
    .await
    .unwrap();
    let (id, key) = (created.info.secret_id, created.secret_key);
    let started = std::time::Instant::now();
    loop {
        let r = app
            .send(R::get("").host(SERVICE).signed_by(&id, &key))
            .await;
        if r.status == 200 {
            break;
        }
        r.assert_error(403, "InvalidAccessKeyId");
        assert!(started.elapsed() < Duration::from_secs(3), "not picked up");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    localcos::admin::keys::revoke(state.store.meta().as_ref(), &rules, &id)
        .await
        .unwrap();
    let started = std::time::Instant::now();
    loop {
        let r = app
            .send(R::get("").host(SERVICE).signed_by(&id, &key))
            .await;
        if r.status == 403 {
            r.assert_error(403, "InvalidAccessKeyId");
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "revocation not picked up"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Every file under `dir`, concatenated.
fn dir_bytes(dir: &std::path::Path) -> Vec<u8> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.is_dir() {
            out.extend(dir_bytes(&p));
        } else {
            out.extend(std::fs::read(&p).unwrap());
        }
    }
    out
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[tokio::test]
async fn master_key_seals_secrets_at_rest_and_must_match_on_restart() {
    let dir = tempfile::tempdir().unwrap();
    let given = "given-secret-key-0123456789abcdef";
    let (id, key) = {
        let app = app_with(config(Some(dir.path()), Some(MASTER))).await;
        let pair = add(&app, serde_json::json!({})).await;
        add(
            &app,
            serde_json::json!({"secret_id": "AKIDgivenpair", "secret_key": given}),
        )
        .await;
        pair
    };
    // The index holds neither secret in clear.
    let bytes = dir_bytes(dir.path());
    assert!(contains(&bytes, &id), "the SecretId is stored");
    assert!(!contains(&bytes, &key) && !contains(&bytes, given));

    // A restart with the master key: the keys still work.
    {
        let app = app_with(config(Some(dir.path()), Some(MASTER))).await;
        assert_eq!(
            app.send(R::get("").host(SERVICE).signed_by(&id, &key))
                .await
                .status,
            200
        );
        let r = app
            .send(R::get("").host(SERVICE).signed_by("AKIDgivenpair", given))
            .await;
        assert_eq!(r.status, 200);
        let v = json(&app.send(admin(Method::GET, "/-/admin/keys")).await);
        assert!(v["keys"]
            .as_array()
            .unwrap()
            .iter()
            .all(|k| k["encrypted"] == true));
    }
    // A wrong master key, or none: refused with a clear message.
    let e = localcos::testing::app(config(Some(dir.path()), Some(MASTER2)))
        .await
        .err()
        .expect("wrong master key refused")
        .to_string();
    assert!(e.contains("wrong master key"), "{e}");
    let e = localcos::testing::app(config(Some(dir.path()), None))
        .await
        .err()
        .expect("missing master key refused")
        .to_string();
    assert!(e.contains("no master key is configured"), "{e}");
}

#[tokio::test]
async fn keys_stored_in_clear_are_sealed_once_a_master_key_is_set() {
    let dir = tempfile::tempdir().unwrap();
    let (id, key) = {
        let app = app_with(config(Some(dir.path()), None)).await;
        add(&app, serde_json::json!({})).await
    };
    assert!(
        contains(&dir_bytes(dir.path()), &key),
        "clear without a master key"
    );
    {
        let app = app_with(config(Some(dir.path()), Some(MASTER))).await;
        assert_eq!(
            app.send(R::get("").host(SERVICE).signed_by(&id, &key))
                .await
                .status,
            200
        );
    }
    // redb rewrites pages copy-on-write: the old page may linger until reused,
    // so check the live record instead of the raw file here.
    let app = app_with(config(Some(dir.path()), Some(MASTER))).await;
    let table = app.svc.state.store.meta().keys().await.unwrap();
    assert!(matches!(
        table.keys[0].secret,
        localcos::storage::keys::StoredSecret::Sealed { .. }
    ));
    assert!(table.check.is_some());
}

// ---- the real binary -------------------------------------------------------

struct Child {
    proc: std::process::Child,
    port: u16,
}

impl Drop for Child {
    fn drop(&mut self) {
        // SIGTERM: a graceful stop, as an operator would do it.
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(self.proc.id() as i32, libc::SIGTERM) };
        for _ in 0..100 {
            if let Ok(Some(_)) = self.proc.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.proc.kill();
        let _ = self.proc.wait();
    }
}

const BIN: &str = env!("CARGO_BIN_EXE_localcos");

fn base_env(cmd: &mut std::process::Command) -> &mut std::process::Command {
    for (k, _) in std::env::vars() {
        if k.starts_with("LOCALCOS_") {
            cmd.env_remove(k);
        }
    }
    cmd.env("LOCALCOS_SECRET_ID", ID)
        .env("LOCALCOS_SECRET_KEY", KEY)
        .env("LOCALCOS_MASTER_KEY", MASTER)
}

fn serve(dir: &std::path::Path) -> Child {
    serve_with(dir, &[])
}

fn serve_with(dir: &std::path::Path, extra: &[&str]) -> Child {
    let mut proc = base_env(&mut std::process::Command::new(BIN))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--bucket",
            "examplebucket",
            "--data-dir",
        ])
        .arg(dir)
        .args(extra)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let port = crate::common::binary::banner_addr(&mut proc).port();
    Child { proc, port }
}

fn keys_cmd(args: &[&str]) -> (bool, String, String) {
    let out = base_env(&mut std::process::Command::new(BIN))
        .arg("keys")
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// One signed request to a real server.
async fn send_to(port: u16, r: R) -> (u16, String) {
    let req = r.build();
    let (parts, body) = req.into_parts();
    let body = http_body_util::BodyExt::collect(body)
        .await
        .unwrap()
        .to_bytes();
    let url = format!("http://127.0.0.1:{port}{}", parts.uri);
    let client = reqwest::Client::new();
    let mut b = client.request(parts.method, url).body(body);
    for (k, v) in parts.headers.iter() {
        if k != http::header::HOST {
            b = b.header(k, v);
        }
    }
    let resp = b.send().await.unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

fn host_of(port: u16) -> String {
    format!("127.0.0.1:{port}")
}

#[tokio::test]
async fn cli_online_and_offline() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap().to_string();
    let server = serve(dir.path());
    let url = format!("http://127.0.0.1:{}", server.port);
    let host = host_of(server.port);

    // Online: add prints the pair once (JSON here), and it works at once.
    let (ok, out, err) = keys_cmd(&["--url", &url, "add", "--bucket", "examplebucket", "--json"]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let (id, key) = (
        v["secret_id"].as_str().unwrap().to_string(),
        v["secret_key"].as_str().unwrap().to_string(),
    );
    let put = |id: &str, key: &str| {
        R::put("cli.txt", "via cli")
            .raw_path("/examplebucket-1250000000/cli.txt")
            .host(&host)
            .signed_by(id, key)
    };
    assert_eq!(send_to(server.port, put(&id, &key)).await.0, 200);
    // Text output: the pair, then a warning; list never shows the secret.
    let (ok, out, err) = keys_cmd(&[
        "add",
        "--url",
        &url,
        "--read-only",
        "--description",
        "reader",
    ]);
    assert!(ok, "{err}");
    assert!(
        out.contains("SecretId:  AKID") && out.contains("SecretKey: "),
        "{out}"
    );
    assert!(out.contains("read-only on all buckets (reader)"), "{out}");
    let (ok, out, err) = keys_cmd(&["list", "--url", &url]);
    assert!(ok, "{err}");
    assert!(out.contains(&id) && !out.contains(&key), "{out}");
    assert!(
        out.contains("examplebucket-1250000000") && out.contains("reader"),
        "{out}"
    );

    // Offline while the server runs: a clear refusal.
    let (ok, _, err) = keys_cmd(&["list", "--data-dir", &d]);
    assert!(!ok);
    assert!(err.contains("in use by a running localcos server"), "{err}");
    // Wrong owner credentials: the server's error, readable.
    let (ok, _, err) = keys_cmd(&["list", "--url", &url, "--secret-key", "wrong"]);
    assert!(!ok);
    assert!(err.contains("403 SignatureDoesNotMatch"), "{err}");

    // Online revoke: refused at once.
    let (ok, out, err) = keys_cmd(&["revoke", "--url", &url, &id]);
    assert!(ok, "{err}");
    assert_eq!(out.trim(), format!("{id} is revoked"));
    let (status, body) = send_to(server.port, put(&id, &key)).await;
    assert_eq!(status, 403);
    assert!(body.contains("<Code>InvalidAccessKeyId</Code>"), "{body}");
    drop(server);

    // Offline, server stopped: list, add, rotate.
    let (ok, out, err) = keys_cmd(&["list", "--data-dir", &d, "--json"]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["keys"].as_array().unwrap().len(), 2);
    let (ok, out, err) = keys_cmd(&["add", "--data-dir", &d, "--json"]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let (off_id, off_key) = (
        v["secret_id"].as_str().unwrap().to_string(),
        v["secret_key"].as_str().unwrap().to_string(),
    );
    assert_eq!(v["encrypted"], true);
    let (ok, out, err) = keys_cmd(&[
        "rotate",
        "--data-dir",
        &d,
        &off_id,
        "--grace-seconds",
        "3600",
    ]);
    assert!(ok, "{err}");
    assert!(
        out.contains(&format!("{off_id} keeps working for 3600 more seconds")),
        "{out}"
    );
    // Offline with a wrong master key: refused, nothing written.
    let (ok, _, err) = keys_cmd(&["add", "--data-dir", &d, "--master-key", MASTER2]);
    assert!(!ok);
    assert!(err.contains("wrong master key"), "{err}");
    let empty = tempfile::tempdir().unwrap();
    let (ok, _, err) = keys_cmd(&["list", "--data-dir", empty.path().to_str().unwrap()]);
    assert!(!ok && err.contains("no localcos index at"), "{err}");
    assert_eq!(
        std::fs::read_dir(empty.path()).unwrap().count(),
        0,
        "nothing written"
    );
    let (ok, _, err) = keys_cmd(&["revoke", "--data-dir", &d, "AKIDnosuch"]);
    assert!(
        !ok && err.contains("no stored key has SecretId AKIDnosuch"),
        "{err}"
    );

    // Restarted: the offline key works, the revoked one does not.
    let server = serve(dir.path());
    let host = host_of(server.port);
    let get = |id: &str, key: &str| {
        R::get("cli.txt")
            .raw_path("/examplebucket-1250000000/cli.txt")
            .host(&host)
            .signed_by(id, key)
    };
    let (status, body) = send_to(server.port, get(&off_id, &off_key)).await;
    assert_eq!((status, body.as_str()), (200, "via cli"));
    assert_eq!(send_to(server.port, get(&id, &key)).await.0, 403);
}

/// `localcos keys` against an HTTPS listener (`--tls-self-signed`): with
/// `--cacert <its cert.pem>`, or with the server's data dir (whose
/// self-signed certificate it trusts); refused with a hint when the
/// certificate is not trusted; a plain http:// URL
/// gets the server's "speaks HTTPS" error.
#[tokio::test]
async fn cli_online_over_https() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve_with(dir.path(), &["--tls-self-signed"]);
    let port = server.port;
    let cert = dir.path().join("tls/cert.pem");
    assert!(cert.is_file());
    let (cert_s, d) = (cert.to_str().unwrap(), dir.path().to_str().unwrap());
    let url = format!("https://127.0.0.1:{port}");
    let by_name = format!("https://localhost:{port}");

    let (ok, out, err) = keys_cmd(&["--url", &url, "--cacert", cert_s, "add", "--json"]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let id = v["secret_id"].as_str().unwrap().to_string();
    for args in [
        vec!["list", "--url", &url, "--cacert", cert_s],
        vec!["list", "--url", &by_name, "--cacert", cert_s],
        // The data dir's own self-signed certificate is trusted.
        vec!["list", "--url", &url, "--data-dir", d],
    ] {
        let (ok, out, err) = keys_cmd(&args);
        assert!(ok, "{args:?}: {err}");
        assert!(out.contains(&id), "{args:?}: {out}");
    }

    // Not trusted: no --cacert and another data dir, or another certificate.
    let other = tempfile::tempdir().unwrap();
    let other_cert = other.path().join("cert.pem");
    let key = rcgen::KeyPair::generate().unwrap();
    let params = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()]).unwrap();
    std::fs::write(&other_cert, params.self_signed(&key).unwrap().pem()).unwrap();
    let o = other.path().to_str().unwrap();
    for args in [
        vec!["list", "--url", &url, "--data-dir", o],
        vec![
            "list",
            "--url",
            &url,
            "--cacert",
            other_cert.to_str().unwrap(),
        ],
    ] {
        let (ok, _, err) = keys_cmd(&args);
        assert!(!ok, "{args:?}");
        assert!(
            err.contains("TLS handshake failed") && err.contains("--cacert"),
            "{args:?}: {err}"
        );
    }
    assert_eq!(
        std::fs::read_dir(other.path()).unwrap().count(),
        1,
        "online mode wrote nothing into the other data dir"
    );
    // Plain HTTP to the HTTPS port: the server's answer, readable.
    let (ok, _, err) = keys_cmd(&["list", "--url", &format!("http://127.0.0.1:{port}")]);
    assert!(!ok);
    assert!(
        err.contains("400 InvalidRequest") && err.contains("HTTPS"),
        "{err}"
    );
    // A scheme it does not speak.
    let (ok, _, err) = keys_cmd(&["list", "--url", &format!("ftp://127.0.0.1:{port}")]);
    assert!(!ok && err.contains("http or https"), "{err}");
}
