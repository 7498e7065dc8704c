//! stub
pub fn error_body(_c: &str, _m: &str, _r: &str, _id: &str) -> String { String::new() }
