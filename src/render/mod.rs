//! stub
pub mod headers;
pub mod xml;
