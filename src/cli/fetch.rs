//! `netcore fetch`: seed 003's urlopen/urlretrieve from a shell.

use std::io::{self, Write};
use std::path::PathBuf;

use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::client::{explain, seconds};
use super::Failure;
use crate::client::url;
use crate::error::Error;

const FETCH_EXAMPLES: &str = "  netcore fetch file:/etc/hostname
  netcore fetch http://127.0.0.1:8000/ -o index.html   # server: python3 -m http.server 8000 --bind 127.0.0.1
  netcore fetch gopher://localhost:7070/0/about        # server: a Gopher server on port 7070
  netcore fetch https://localhost:8443/README.md --cafile certs/ca.pem   # server: openssl s_server -WWW -accept 8443 -cert certs/server.pem -key certs/server.key (certs: scripts/make-test-certs certs)";

/// Download a URL: http://, https://, file: or gopher://.
///
/// Without -o the body goes to stdout. With -o FILE it is saved to FILE with a progress bar
/// on stderr (at a terminal) and a closing line saying how many bytes were saved; FILE
/// appears only when the download is complete. HTTP redirects are followed (up to 10); a
/// status outside 2xx is an error.
#[derive(Args, Debug)]
#[command(after_help = super::exit::help("fetch", FETCH_EXAMPLES))]
pub struct FetchArgs {
    /// The URL to fetch
    pub url: String,
    /// Save to FILE instead of writing to stdout
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Seconds to wait for connecting and for each read
    #[arg(long, default_value_t = 30.0, value_name = "SECONDS")]
    pub timeout: f64,
    /// https: PEM CA file to trust instead of the system's store
    #[arg(long, value_name = "FILE")]
    pub cafile: Option<PathBuf>,
    /// https: directory of PEM CA files to trust instead of the system's store
    #[arg(long, value_name = "DIR")]
    pub capath: Option<PathBuf>,
    /// https: accept any certificate (tests only; says so on stderr)
    #[arg(long)]
    pub insecure: bool,
}

pub fn fetch(args: &FetchArgs) -> Result<(), Failure> {
    let timeout = seconds("timeout", args.timeout)?;
    let _sigint = super::client::SigintGuard::default_action();
    let failed = |e: Error| match e {
        Error::InvalidArgument(m) => Failure::usage(format!("fetch: {m}")),
        e => Failure::network(format!("fetch {}: {}", args.url, explain(&e, timeout))),
    };
    let tls = crate::tls::ClientTls {
        cafile: args.cafile.clone(),
        capath: args.capath.clone(),
        verify: if args.insecure { crate::tls::Verify::None } else { crate::tls::Verify::Full },
        ..Default::default()
    };
    if args.insecure {
        eprintln!("netcore: warning: --insecure: the server's certificate is not checked");
    }
    let mut response = url::open_with(&args.url, Some(timeout), &tls).map_err(failed)?;
    if !response.is_success() {
        let status = format!("{} {}", response.status, response.reason);
        let via = if response.url != args.url { format!(" (redirected to {})", response.url) } else { String::new() };
        return Err(Failure::network(format!("fetch {}: HTTP {}{via}", args.url, status.trim())));
    }
    let Some(path) = &args.output else {
        let mut out = io::stdout().lock();
        url::copy_body(&mut response, &mut out, &mut |_| Ok(())).map_err(failed)?;
        return out.flush().map_err(|e| Failure::network(format!("cannot write the output: {e}")));
    };
    let bar = match response.content_length {
        Some(len) => ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr()).with_style(
            ProgressStyle::with_template("{bar:30} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}")
                .expect("valid template"),
        ),
        None => ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr())
            .with_style(ProgressStyle::with_template("{spinner} {bytes} {bytes_per_sec}").expect("valid template")),
    };
    let saved = url::save(&mut response, path, &mut |done| {
        bar.set_position(done);
        Ok(())
    });
    match saved {
        Ok(n) => {
            bar.finish();
            eprintln!("saved {n} bytes to {}", path.display());
            Ok(())
        }
        Err(e) => {
            bar.abandon();
            Err(Failure::network(format!(
                "fetch {}: saving to {} failed: {}",
                args.url,
                path.display(),
                explain(&e, timeout)
            )))
        }
    }
}
