//! The one integration-test binary (STYLE habit 11): every suite is a module here.

mod backend_conformance;
