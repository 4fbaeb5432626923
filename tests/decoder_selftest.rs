//! The test decoder's own tests, against hand-built bytes: a decoder that accepted
//! anything would make every other check here worthless.

mod common;
#[path = "common/selftest.rs"]
mod selftest;
