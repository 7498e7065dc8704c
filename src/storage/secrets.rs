//! Secrets every node needs (NOTES 16), shared through the index
//! (`MetaStore::secret_or_init`: the first node to start stores its value,
//! every later one reads it), so that no node's data dir holds the only copy:
//!
//! - [`SSE_MASTER_KEY`]: the generated SSE-COS master key (32 bytes), used
//!   when no master key is configured (`SseKeys::open`). An embedded data
//!   dir that already has `sse-master.key` stores that key, so nothing
//!   written before becomes unreadable, and keeps reading the file.
//! - [`GENERATED_CREDENTIALS`]: the default SecretId/SecretKey pair made up
//!   when none is configured (`id\nkey\n`, as `<data-dir>/credentials`).
//!
//! The credential master key (`--master-key`) is never stored: it comes
//! from config/env, like configured SSE and KMS keys.

use crate::auth::keys::{Credential, SecretKey};
use crate::config::Config;
use crate::storage::MetaStore;

/// The generated SSE-COS master key.
pub const SSE_MASTER_KEY: &str = "sse-master-key";
/// The generated default credential pair.
pub const GENERATED_CREDENTIALS: &str = "generated-credentials";

/// Replaces the generated default credential (`config.credentials[0]` when
/// `config.generated_credentials`) by the one the index holds, storing this
/// node's when there is none: every node then prints and accepts one pair.
/// # Behavior
/// - Does nothing unless the credentials were generated.
/// - An index error or an unreadable stored value is an error (start-up
///   fails rather than serve with credentials the other nodes refuse).
pub async fn share_generated_credentials(
    config: &mut Config,
    meta: &dyn MetaStore,
) -> Result<(), String> {
    if !config.generated_credentials || config.credentials.is_empty() {
        return Ok(());
    }
    let mine = &config.credentials[0];
    let init = format!("{}\n{}\n", mine.secret_id, mine.secret_key.expose());
    let stored = meta
        .secret_or_init(GENERATED_CREDENTIALS, init.into_bytes())
        .await
        .map_err(|e| format!("generated credentials: {e}"))?;
    let (id, key) = parse_pair(&stored)
        .ok_or_else(|| "generated credentials: the stored value is unreadable".to_string())?;
    config.credentials[0] = Credential {
        secret_id: id,
        secret_key: SecretKey::new(key),
        token: None,
        expires: None,
    };
    Ok(())
}

fn parse_pair(bytes: &[u8]) -> Option<(String, String)> {
    let text = std::str::from_utf8(bytes).ok()?;
    let mut lines = text.lines();
    let (id, key) = (lines.next()?.trim(), lines.next()?.trim());
    (!id.is_empty() && !key.is_empty()).then(|| (id.to_string(), key.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (stored bytes, the pair read from them)
    type Case = (&'static [u8], Option<(&'static str, &'static str)>);

    #[test]
    fn pair_table() {
        let cases: &[Case] = &[
            (b"AKIDx\nsecret\n", Some(("AKIDx", "secret"))),
            (b"AKIDx\nsecret", Some(("AKIDx", "secret"))),
            (b"AKIDx\n", None),
            (b"\nsecret\n", None),
            (b"", None),
            (&[0xff, b'\n', b'a'], None),
        ];
        for (bytes, want) in cases {
            let want = want.map(|(a, b)| (a.to_string(), b.to_string()));
            assert_eq!(parse_pair(bytes), want, "{bytes:?}");
        }
    }

    #[tokio::test]
    async fn two_nodes_share_one_generated_pair() {
        let meta = crate::storage::memory::MemoryMeta::new();
        let mut first = Config::for_tests("x", "y");
        first.credentials[0] = Credential {
            secret_id: "AKIDfirst".into(),
            secret_key: SecretKey::new("k1"),
            token: None,
            expires: None,
        };
        first.generated_credentials = true;
        let mut second = first.clone();
        second.credentials[0] = Credential {
            secret_id: "AKIDsecond".into(),
            secret_key: SecretKey::new("k2"),
            token: None,
            expires: None,
        };
        share_generated_credentials(&mut first, &meta)
            .await
            .unwrap();
        share_generated_credentials(&mut second, &meta)
            .await
            .unwrap();
        for c in [&first, &second] {
            assert_eq!(c.credentials[0].secret_id, "AKIDfirst");
            assert_eq!(c.credentials[0].secret_key.expose(), "k1");
        }
        // Configured credentials are never replaced.
        let mut configured = Config::for_tests("AKIDmine", "mine");
        share_generated_credentials(&mut configured, &meta)
            .await
            .unwrap();
        assert_eq!(configured.credentials[0].secret_id, "AKIDmine");
    }
}
