//! The `netcore` program: the command line (src/cli) over the library. The CLI's modules name
//! the library's as `crate::client`, `crate::server`...; the imports below make those paths
//! the same here as inside the library, where the Python module compiles the CLI too.

use netcore::{client, error, resolve, server, socket, tls, Error};

mod cli;

fn main() {
    std::process::exit(cli::main(std::env::args_os()));
}
