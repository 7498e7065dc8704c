//! stub
pub struct TestServer;
