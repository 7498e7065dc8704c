//! Rendering: every COS-style response header is set in `headers`, every XML
//! body is written in `xml`.
pub mod headers;
pub mod versions;
pub mod xml;
