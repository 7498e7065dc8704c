//! PLACEHOLDER until the COS q-sign verifier lands.
use super::*;
use std::time::SystemTime;
pub fn detect(parts: &RequestParts<'_>) -> Dialect {
    if parts
        .headers
        .get(http::header::AUTHORIZATION)
        .is_some_and(|v| !v.is_empty())
    {
        Dialect::CosHeader
    } else if parts
        .query
        .iter()
        .any(|(k, _)| k == "q-signature" || k == "sign")
    {
        Dialect::CosQuery
    } else {
        Dialect::Anonymous
    }
}
pub fn verify(
    _parts: &RequestParts<'_>,
    _keys: &KeyStore,
    _now: SystemTime,
    _opts: &AuthOptions,
) -> Result<Identity, AuthError> {
    Err(AuthError::SignatureMismatch)
}
pub fn is_auth_param(name: &str) -> bool {
    matches!(
        name,
        "q-sign-algorithm"
            | "q-ak"
            | "q-sign-time"
            | "q-key-time"
            | "q-header-list"
            | "q-url-param-list"
            | "q-signature"
            | "sign"
    )
}
