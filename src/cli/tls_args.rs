//! The TLS options of `netcore client`, `send` and `bench`, converted to the core's
//! `ClientTls` (the option rules themselves are `ClientTls::from_options`).

use std::path::PathBuf;

use clap::Args;

use super::Failure;
use crate::tls::{ClientTls, Verify};

#[derive(Args, Debug, Clone, Default)]
pub struct TlsArgs {
    /// Speak TLS (the server's certificate is checked against the system's trust store)
    #[arg(long)]
    pub tls: bool,
    /// PEM CA file to trust instead of the system's store (with --tls)
    #[arg(long, value_name = "FILE", requires = "tls")]
    pub cafile: Option<PathBuf>,
    /// PEM client certificate, for servers that require one (mutual TLS)
    #[arg(long, value_name = "FILE", requires = "tls")]
    pub cert: Option<PathBuf>,
    /// PEM private key of --cert (default: read from --cert)
    #[arg(long, value_name = "FILE", requires = "cert")]
    pub key: Option<PathBuf>,
    /// The name to check the certificate against (default: HOST)
    #[arg(long, value_name = "NAME", requires = "tls")]
    pub server_name: Option<String>,
    /// Accept any server certificate: encrypted, but to whoever answers (tests only)
    #[arg(long, requires = "tls")]
    pub insecure: bool,
}

impl TlsArgs {
    /// The client TLS settings; `--insecure` says on stderr what it gives up.
    pub fn client_tls(&self) -> Result<Option<ClientTls>, Failure> {
        let tls = ClientTls::from_options(
            self.tls,
            self.cafile.clone(),
            self.cert.clone(),
            self.key.clone(),
            self.server_name.clone(),
        )
        .map_err(|e| Failure::usage(e.to_string()))?;
        Ok(tls.map(|t| match self.insecure {
            true => {
                eprintln!("netcore: warning: --insecure: the server's certificate is not checked");
                ClientTls { verify: Verify::None, ..t }
            }
            false => t,
        }))
    }
}
