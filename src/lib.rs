//! netcore: sockets with Python's semantics, resolver helpers, a command-server engine and
//! clients, in one Rust core with a C ABI (`ffi`, feature `c-api`, on by default) and a Python
//! module (`python`, feature-gated). Layers and rules: docs/architecture.md.
//!
//! The command line (`src/cli`) is not part of the library: it is compiled into the `netcore`
//! program (src/main.rs), and into the Python module for `python -m netcore`. So the C
//! library carries none of clap, rustyline, indicatif or hdrhistogram.

pub mod busy_poll;
pub mod client;
pub mod error;
#[cfg(feature = "c-api")]
pub mod ffi;
pub mod resolve;
pub mod server;
pub mod socket;
pub mod tls;

#[cfg(feature = "python")]
mod cli;
#[cfg(feature = "python")]
mod python;

pub use error::{Error, Result};

/// The crate version, as Cargo.toml has it.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
