//! stub
pub type Body = http_body_util::Full<bytes::Bytes>;
