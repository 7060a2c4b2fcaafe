//! The names faces choose from: the framings and the built-in services, their descriptions,
//! and which service takes a banner text.

use std::str::FromStr;

use crate::error::{Error, Result};

/// How a byte stream is cut into requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Framing {
    /// One request per line (`\n`, `\r\n` accepted); every reply is one line ending in `\n`.
    #[default]
    Line,
    /// Every chunk one `recv` returns is one request and the reply goes back as it is, with no
    /// newline added: the tutorials' model, so their original clients work unchanged.
    Message,
    /// RESP, the redis protocol: arrays of bulk strings and inline commands in, typed RESP2
    /// replies out (RESP3 after `HELLO 3`), so every redis client can talk to the server.
    Resp,
}

impl Framing {
    /// One line on what the framing does (`--help`, docs).
    pub fn about(self) -> &'static str {
        match self {
            Framing::Line => "one request per line, one reply line each",
            Framing::Message => "each received chunk is one request; replies sent as they are (the seeds' clients)",
            Framing::Resp => "RESP, the redis protocol: redis-cli, redis-py and every redis client can connect",
        }
    }

    /// Every framing, in the order `--help` and the docs list them.
    pub const ALL: [Framing; 3] = [Framing::Line, Framing::Message, Framing::Resp];
    /// The names `from_str` takes, as every face spells them.
    pub const NAMES: [&'static str; 3] = ["line", "message", "resp"];

    /// The framing's name, as `from_str` takes it.
    pub fn name(self) -> &'static str {
        match self {
            Framing::Line => "line",
            Framing::Message => "message",
            Framing::Resp => "resp",
        }
    }
}

impl FromStr for Framing {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Framing::ALL.into_iter().find(|f| f.name() == s).ok_or_else(|| {
            Error::InvalidArgument(format!("unknown framing {s:?} (expected {})", one_of(&Framing::NAMES)))
        })
    }
}

/// `"a", "b" or "c"`, for the error texts that list the valid names.
fn one_of(names: &[&str]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("{n:?}")).collect();
    match quoted.split_last() {
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => String::new(),
    }
}

/// The text the `banner` service sends when none is configured (seed 003's thank-you server).
pub const DEFAULT_BANNER: &str = "Thank you for connection";

/// The built-in services, named for the seeds.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum Service {
    /// Seed 000's multi-command server: date, os, ls, help, quit/exit; else `welcome`. The
    /// default where a face is given no service.
    #[default]
    Command,
    /// Seed 002's greeting server: a banner on connect, `Hello, <msg>!` per message.
    Greet,
    /// Seeds 003/004: send the text, then close.
    Banner(Vec<u8>),
    /// Every request comes back unchanged.
    Echo,
    /// Only user commands and the default handler; anything else is an error reply.
    Custom,
}

impl Service {
    /// The names `from_name` takes, as every face spells them (`--help`, stubs, docs).
    pub const NAMES: [&'static str; 5] = ["command", "greet", "banner", "echo", "custom"];

    /// One line on what the service called `name` does (`--help`, docs); "" for no such service.
    pub fn about(name: &str) -> &'static str {
        match name {
            "command" => "seed 000: date, os, ls [PATH], help, quit; anything else gets welcome",
            "greet" => "seed 002: \"Hello, I am server\", then \"Hello, <msg>!\" per message",
            "banner" => "seeds 003/004: send the banner text, then close",
            "echo" => "every request comes back unchanged",
            "custom" => "only user commands and the default handler; anything else is an error",
            _ => "",
        }
    }

    /// The service called `name` (one of `NAMES`). `banner_text` is the `banner` service's text
    /// (default `DEFAULT_BANNER`); any other service given a banner text is an error, in every
    /// face, rather than a text silently never sent.
    pub fn from_name(name: &str, banner_text: Option<&[u8]>) -> Result<Service> {
        let service = match name {
            "command" => Service::Command,
            "greet" => Service::Greet,
            "banner" => return Ok(Service::Banner(banner_text.unwrap_or(DEFAULT_BANNER.as_bytes()).to_vec())),
            "echo" => Service::Echo,
            "custom" => Service::Custom,
            other => {
                return Err(Error::InvalidArgument(format!(
                    "unknown service {other:?} (expected {})",
                    one_of(&Service::NAMES)
                )))
            }
        };
        match banner_text {
            Some(_) => Err(banner_needs_banner_service(name)),
            None => Ok(service),
        }
    }

    /// This service with `text` as its banner: only the `banner` service has one.
    pub fn with_banner(self, text: &[u8]) -> Result<Service> {
        match self {
            Service::Banner(_) => Ok(Service::Banner(text.to_vec())),
            other => Err(banner_needs_banner_service(other.name())),
        }
    }

    /// The service's name, as `from_name` takes it.
    pub fn name(&self) -> &'static str {
        match self {
            Service::Command => "command",
            Service::Greet => "greet",
            Service::Banner(_) => "banner",
            Service::Echo => "echo",
            Service::Custom => "custom",
        }
    }
}

fn banner_needs_banner_service(name: &str) -> Error {
    Error::InvalidArgument(format!("only the banner service takes a banner text (the service is {name:?})"))
}
