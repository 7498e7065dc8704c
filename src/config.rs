//! stub
pub struct Config;
