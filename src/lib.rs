//! netcore: sockets with Python's semantics, resolver helpers, a command-server engine and
//! clients, in one Rust core with a C ABI (`ffi`) and a Python module (`python`, feature-gated).

pub mod cli;
pub mod client;
pub mod error;
pub mod ffi;
pub mod resolve;
pub mod server;
pub mod socket;

#[cfg(feature = "python")]
mod python;

pub use error::{Error, Result};

/// The crate version, as Cargo.toml has it.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
