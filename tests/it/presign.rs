//! Pre-signed URLs (spec cos.md §1.8, §6A.11) minted by the library signer
//! (`localcos::auth::presign`, the one `localcos presign` uses) and fetched
//! like a browser would: no headers but Host. Plus the CLI end to end.

use bytes::Bytes;
use http::{Method, Request};
use http_body_util::Full;
use localcos::auth::presign::{encode_path, query, Presign, Signer};
use localcos::config::{Config, RawConfig, ServeArgs};

use crate::common::{app, app_with, App, Resp, HOST, ID, KEY};

const TMP_ID: &str = "AKIDtemporarypresign";
const TMP_KEY: &str = "temporary-presign-secret";
const TOKEN: &str = "presign-session-token";

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn me() -> Signer<'static> {
    Signer {
        secret_id: ID,
        secret_key: KEY,
        token: None,
    }
}

/// A pre-signed path+query for `key` on the example bucket host.
fn url(method: &str, key: &str, params: &[(&str, &str)], window: (u64, u64), s: &Signer) -> String {
    let path = format!("/{key}");
    let p = Presign {
        method,
        path: &path,
        host: Some(HOST),
        params,
        start: window.0,
        end: window.1,
    };
    format!("{}?{}", encode_path(&path), query(&p, s))
}

fn valid() -> (u64, u64) {
    (now() - 60, now() + 600)
}

/// A browser-like fetch: only Host (and Content-Length for bodies).
async fn fetch(app: &App, method: Method, path_and_query: &str, body: &'static [u8]) -> Resp {
    let mut b = Request::builder()
        .method(method)
        .uri(path_and_query)
        .header("host", HOST);
    if !body.is_empty() {
        b = b.header("content-length", body.len().to_string());
    }
    app.send_raw(b.body(Full::new(Bytes::from_static(body))).unwrap())
        .await
}

#[tokio::test]
async fn get_with_default_and_custom_params() {
    let app = app().await;
    app.put("dir/a b+c.txt", b"presigned body").await;
    let r = fetch(
        &app,
        Method::GET,
        &url("GET", "dir/a b+c.txt", &[], valid(), &me()),
        b"",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(&r.body[..], b"presigned body");

    for disposition in ["inline", "attachment; filename=\"report 2024.pdf\""] {
        let params = [
            ("response-content-disposition", disposition),
            ("response-content-type", "application/pdf"),
            ("versionId", "null"),
        ];
        let u = url("GET", "dir/a b+c.txt", &params, valid(), &me());
        let r = fetch(&app, Method::GET, &u, b"").await;
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.header("content-disposition"), Some(disposition));
        assert_eq!(r.header("content-type"), Some("application/pdf"));
    }
    // Unsigned response-* added after signing is honoured on a signed URL.
    let u = url("GET", "dir/a b+c.txt", &[], valid(), &me()) + "&response-cache-control=no-store";
    let r = fetch(&app, Method::GET, &u, b"").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("cache-control"), Some("no-store"));
    // HEAD with its own URL.
    let r = fetch(
        &app,
        Method::HEAD,
        &url("HEAD", "dir/a b+c.txt", &[], valid(), &me()),
        b"",
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-length"), Some("14"));
}

#[tokio::test]
async fn put_url_uploads() {
    let app = app().await;
    let u = url("PUT", "up/load.bin", &[], valid(), &me());
    let r = fetch(&app, Method::PUT, &u, b"uploaded").await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = fetch(
        &app,
        Method::GET,
        &url("GET", "up/load.bin", &[], valid(), &me()),
        b"",
    )
    .await;
    assert_eq!(&r.body[..], b"uploaded");
}

#[tokio::test]
async fn refused_urls() {
    let app = app().await;
    app.put("k", b"x").await;
    let good = url("GET", "k", &[], valid(), &me());

    // Expired: 403 AccessDenied "Request has expired".
    let r = fetch(
        &app,
        Method::GET,
        &url("GET", "k", &[], (now() - 600, now() - 1), &me()),
        b"",
    )
    .await;
    r.assert_error(403, "AccessDenied");
    assert!(
        r.text().contains("<Message>Request has expired</Message>"),
        "{}",
        r.text()
    );

    // Tampered signature, path, or signed parameter: SignatureDoesNotMatch.
    let sig_at = good.find("q-signature=").unwrap() + "q-signature=".len();
    let mut tampered = good.clone();
    let flipped = if &good[sig_at..sig_at + 1] == "0" {
        "1"
    } else {
        "0"
    };
    tampered.replace_range(sig_at..sig_at + 1, flipped);
    fetch(&app, Method::GET, &tampered, b"")
        .await
        .assert_error(403, "SignatureDoesNotMatch");
    app.put("other", b"y").await;
    fetch(&app, Method::GET, &good.replacen("/k?", "/other?", 1), b"")
        .await
        .assert_error(403, "SignatureDoesNotMatch");
    let signed_param = url(
        "GET",
        "k",
        &[("response-content-type", "text/plain")],
        valid(),
        &me(),
    );
    fetch(
        &app,
        Method::GET,
        &signed_param.replace("text%2Fplain", "text%2Fhtml"),
        b"",
    )
    .await
    .assert_error(403, "SignatureDoesNotMatch");

    // Wrong method: a GET URL used for DELETE or PUT.
    fetch(&app, Method::DELETE, &good, b"")
        .await
        .assert_error(403, "SignatureDoesNotMatch");
    fetch(&app, Method::PUT, &good, b"zz")
        .await
        .assert_error(403, "SignatureDoesNotMatch");

    // Wrong key: unknown SecretId, or the right id with a wrong secret.
    let stranger = Signer {
        secret_id: "AKIDnobodyknows",
        secret_key: KEY,
        token: None,
    };
    fetch(
        &app,
        Method::GET,
        &url("GET", "k", &[], valid(), &stranger),
        b"",
    )
    .await
    .assert_error(403, "InvalidAccessKeyId");
    let wrong_secret = Signer {
        secret_key: "not-the-secret",
        ..me()
    };
    fetch(
        &app,
        Method::GET,
        &url("GET", "k", &[], valid(), &wrong_secret),
        b"",
    )
    .await
    .assert_error(403, "SignatureDoesNotMatch");
    // Still readable with the good one.
    assert_eq!(fetch(&app, Method::GET, &good, b"").await.status, 200);
}

fn temp_config(expires: &str) -> Config {
    let raw: RawConfig = toml::from_str(&format!(
        "[[temporary_credentials]]\nsecret_id = \"{TMP_ID}\"\nsecret_key = \"{TMP_KEY}\"\ntoken = \"{TOKEN}\"\n{expires}\n"
    ))
    .unwrap();
    let args = ServeArgs {
        ephemeral: true,
        secret_id: Some(ID.into()),
        secret_key: Some(KEY.into()),
        ..Default::default()
    };
    Config::from_parts(&args, raw).unwrap()
}

#[tokio::test]
async fn temporary_key_urls() {
    let app = app_with(temp_config("")).await;
    app.put("t", b"temp").await;
    let tmp = Signer {
        secret_id: TMP_ID,
        secret_key: TMP_KEY,
        token: Some(TOKEN),
    };
    // Token as a signed parameter (Go, Python with Params=).
    let u = url("GET", "t", &[], valid(), &tmp);
    let r = fetch(&app, Method::GET, &u, b"").await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(&r.body[..], b"temp");
    // Token appended unsigned (Node's getObjectUrl).
    let no_token = Signer { token: None, ..tmp };
    let bare = url("GET", "t", &[], valid(), &no_token);
    let r = fetch(
        &app,
        Method::GET,
        &format!("{bare}&x-cos-security-token={TOKEN}"),
        b"",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    // Without it, or with another: InvalidAccessKeyId.
    fetch(&app, Method::GET, &bare, b"")
        .await
        .assert_error(403, "InvalidAccessKeyId");
    fetch(
        &app,
        Method::GET,
        &format!("{bare}&x-cos-security-token=other"),
        b"",
    )
    .await
    .assert_error(403, "InvalidAccessKeyId");

    let expired = app_with(temp_config("expires = \"2021-06-01T00:00:00Z\"")).await;
    fetch(&expired, Method::GET, &u, b"")
        .await
        .assert_error(400, "ExpiredToken");
}

/// `localcos presign` prints a URL that a plain HTTP client can fetch.
#[test]
fn cli_presign_against_a_live_server() {
    let mut config = Config::for_tests(ID, KEY);
    config.buckets =
        vec![
            localcos::http::target::BucketName::parse("cli", "1250000000", "ap-guangzhou").unwrap(),
        ];
    let server = localcos::TestServer::start_with(config).unwrap();
    let endpoint = server.endpoint();
    let presign = |args: &[&str]| -> String {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_localcos"))
            .arg("presign")
            .args(["--ephemeral", "--bucket", "cli", "--endpoint", &endpoint])
            .args(args)
            .env("LOCALCOS_SECRET_ID", ID)
            .env("LOCALCOS_SECRET_KEY", KEY)
            .env_remove("LOCALCOS_CONFIG")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    let put_url = presign(&["--method", "PUT", "--expires", "120", "dir/from cli.txt"]);
    assert!(
        put_url.starts_with(&format!(
            "{endpoint}/cli-1250000000/dir/from%20cli.txt?q-sign-algorithm=sha1&"
        )),
        "{put_url}"
    );
    let get_url = presign(&[
        "--param",
        "response-content-disposition=attachment; filename=\"x.txt\"",
        "dir/from cli.txt",
    ]);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let client = reqwest::Client::builder().no_proxy().build().unwrap();
        let r = client
            .put(&put_url)
            .body("via the cli")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
        let r = client.get(&get_url).send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(
            r.headers()["content-disposition"],
            "attachment; filename=\"x.txt\""
        );
        assert_eq!(r.text().await.unwrap(), "via the cli");
        // The PUT URL is not a GET URL.
        let r = client.get(&put_url).send().await.unwrap();
        assert_eq!(r.status(), 403);
    });
    // An expiry of 0 seconds is expired as soon as the clock ticks past it.
    let expired = presign(&["--expires", "0", "dir/from cli.txt"]);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    rt.block_on(async {
        let client = reqwest::Client::builder().no_proxy().build().unwrap();
        let r = client.get(&expired).send().await.unwrap();
        assert_eq!(r.status(), 403);
        assert!(r.text().await.unwrap().contains("Request has expired"));
    });
}

/// `localcos presign --credential <temporary id>`: the URL carries the token.
#[test]
fn cli_presign_with_a_temporary_credential() {
    let dir = tempfile::tempdir().unwrap();
    let toml = format!(
        "buckets = [\"clitmp\"]\n[[temporary_credentials]]\nsecret_id = \"{TMP_ID}\"\nsecret_key = \"{TMP_KEY}\"\ntoken = \"{TOKEN}\"\n"
    );
    let path = dir.path().join("localcos.toml");
    std::fs::write(&path, &toml).unwrap();
    let args = ServeArgs {
        listen: Some("127.0.0.1:0".into()),
        ephemeral: true,
        secret_id: Some(ID.into()),
        secret_key: Some(KEY.into()),
        ..Default::default()
    };
    let config = Config::from_parts(&args, toml::from_str(&toml).unwrap()).unwrap();
    let server = localcos::TestServer::start_with(config).unwrap();
    let endpoint = server.endpoint();
    let presign = |extra: &[&str]| -> std::process::Output {
        std::process::Command::new(env!("CARGO_BIN_EXE_localcos"))
            .arg("presign")
            .args(["--ephemeral", "--config"])
            .arg(&path)
            .args(["--endpoint", &endpoint, "--bucket", "clitmp"])
            .args(extra)
            .env("LOCALCOS_SECRET_ID", ID)
            .env("LOCALCOS_SECRET_KEY", KEY)
            .output()
            .unwrap()
    };
    let out = presign(&["--method", "PUT", "--credential", TMP_ID, "t.txt"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let url = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert!(url.contains(&format!("q-ak={TMP_ID}&")), "{url}");
    assert!(
        url.ends_with(&format!("&x-cos-security-token={TOKEN}")),
        "{url}"
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let client = reqwest::Client::builder().no_proxy().build().unwrap();
        let r = client.put(&url).body("temporary cli").send().await.unwrap();
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    });
    // An unknown credential is a clear error, not a URL.
    let out = presign(&["--credential", "AKIDnotconfigured", "t.txt"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("AKIDnotconfigured"));
}
