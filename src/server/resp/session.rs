//! The connection-level commands redis clients send on connect or that tools need: HELLO,
//! AUTH, QUIT, CLIENT, SELECT, COMMAND and INFO. They answer before user commands (a user
//! command cannot replace them) and need the connection's state, which lives here.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::server::commands::wrong_arity;
use crate::server::reply::{Outcome, Reply, ReplyOut, Wire};
use crate::server::service::{lower_name, Dispatcher};
use crate::server::Stats;

/// Client ids, as `CLIENT ID` and `HELLO` report them: unique in the process.
static NEXT_CLIENT_ID: AtomicU64 = AtomicU64::new(1);

/// One RESP connection's state.
#[derive(Debug)]
pub(crate) struct Session {
    pub wire: Wire,
    pub id: u64,
    pub authed: bool,
    name: Option<Vec<u8>>,
    lib_name: Option<Vec<u8>>,
    lib_ver: Option<Vec<u8>>,
}

/// What the session commands need to know about the server.
pub(crate) struct ServerView<'a> {
    pub token: Option<&'a [u8]>,
    pub dispatcher: &'a Dispatcher,
    pub stats: &'a (dyn Fn() -> Stats + Sync),
    pub peer: &'a str,
    pub uptime_s: u64,
}

/// The built-in commands with their arity (redis's rule: N exactly, -N at least N) and a
/// one-line summary, for COMMAND and COMMAND DOCS. `seed`: only with the `command` service.
struct Builtin {
    name: &'static str,
    arity: i64,
    summary: &'static str,
    args: &'static [(&'static str, bool)],
    seed: bool,
}

const BUILTINS: &[Builtin] = &[
    Builtin {
        name: "ping",
        arity: -1,
        summary: "Returns PONG, or the message given.",
        args: &[("message", true)],
        seed: false,
    },
    Builtin { name: "echo", arity: 2, summary: "Returns the message given.", args: &[("message", false)], seed: false },
    Builtin {
        name: "hello",
        arity: -1,
        summary: "Chooses RESP2 or RESP3, authenticates, names the connection.",
        args: &[("protover", true)],
        seed: false,
    },
    Builtin {
        name: "auth",
        arity: -2,
        summary: "Authenticates with the server's token.",
        args: &[("password", false)],
        seed: false,
    },
    Builtin { name: "quit", arity: -1, summary: "Closes the connection.", args: &[], seed: false },
    Builtin {
        name: "client",
        arity: -2,
        summary: "CLIENT SETNAME, GETNAME, ID, INFO, SETINFO.",
        args: &[("subcommand", false)],
        seed: false,
    },
    Builtin {
        name: "select",
        arity: 2,
        summary: "Selects database 0 (the only one).",
        args: &[("index", false)],
        seed: false,
    },
    Builtin {
        name: "command",
        arity: -1,
        summary: "The server's commands: COMMAND, COMMAND COUNT, COMMAND DOCS.",
        args: &[("subcommand", true)],
        seed: false,
    },
    Builtin { name: "info", arity: -1, summary: "The server's statistics.", args: &[("section", true)], seed: false },
    Builtin { name: "date", arity: 1, summary: "The server's local time.", args: &[], seed: true },
    Builtin { name: "os", arity: 1, summary: "The server's operating system family.", args: &[], seed: true },
    Builtin {
        name: "ls",
        arity: -1,
        summary: "The names in a directory of the served root.",
        args: &[("path", true)],
        seed: true,
    },
    Builtin { name: "help", arity: 1, summary: "The commands, in one line.", args: &[], seed: true },
];

impl Session {
    pub fn new(authed: bool) -> Self {
        Session {
            wire: Wire::Resp2,
            id: NEXT_CLIENT_ID.fetch_add(1, Ordering::Relaxed),
            authed,
            name: None,
            lib_name: None,
            lib_ver: None,
        }
    }

    /// Whether `answer` answers `argv` (a session command, or any command before the token
    /// was given); else the dispatcher does.
    pub fn takes(&self, argv: &[&[u8]]) -> bool {
        let mut name_buf = [0u8; 32];
        let name = lower_name(argv[0], &mut name_buf);
        !self.authed || matches!(&*name, b"hello" | b"auth" | b"quit" | b"client" | b"select" | b"command" | b"info")
    }

    /// Answers `argv` if it is a session command (or refuses any command before the token
    /// was given); `None`: the dispatcher answers it (`takes` says which, beforehand).
    pub fn answer(&mut self, argv: &[&[u8]], server: &ServerView<'_>, buf: &mut Vec<u8>) -> Option<Outcome> {
        let mut name_buf = [0u8; 32];
        let name = lower_name(argv[0], &mut name_buf);
        let args = &argv[1..];
        let mut out = ReplyOut::new(buf, self.wire);
        if !self.authed && !matches!(&*name, b"hello" | b"auth" | b"quit") {
            return Some(out.error_text(b"NOAUTH Authentication required."));
        }
        if !self.takes(argv) {
            return None;
        }
        Some(match &*name {
            b"quit" => out.simple(b"OK").and_close(),
            b"auth" => match args {
                [password] | [_, password] => self.auth(password, server, &mut out).unwrap_or(Outcome::REPLY),
                _ => wrong_arity(argv[0], &mut out),
            },
            b"hello" => self.hello(args, server, &mut out),
            b"select" => match args {
                [b"0"] => out.simple(b"OK"),
                [_] => out.error_text(b"ERR DB index is out of range"),
                _ => wrong_arity(argv[0], &mut out),
            },
            b"client" => self.client(args, server, &mut out),
            b"command" => command(args, server.dispatcher, &mut out),
            _ => info(args, server, &mut out),
        })
    }

    /// Checks the token; `Some(outcome)` when the answer is an error (then the connection
    /// closes on a wrong token, as in line framing), `None` after writing `+OK`.
    fn auth(&mut self, password: &[u8], server: &ServerView<'_>, out: &mut ReplyOut<'_>) -> Option<Outcome> {
        let Some(token) = server.token else {
            return Some(out.error_text(
                b"ERR AUTH <password> called without any password configured for the default user. \
                  Are you sure your configuration is correct?",
            ));
        };
        if crate::server::engine::constant_time_eq(password, token) {
            self.authed = true;
            out.simple(b"OK");
            None
        } else {
            Some(out.error_text(b"WRONGPASS invalid username-password pair or user is disabled.").and_close())
        }
    }

    fn hello(&mut self, args: &[&[u8]], server: &ServerView<'_>, out: &mut ReplyOut<'_>) -> Outcome {
        let mut rest = args;
        let mut wire = self.wire;
        if let Some((version, tail)) = rest.split_first() {
            wire = match *version {
                b"2" => Wire::Resp2,
                b"3" => Wire::Resp3,
                _ => return out.error_text(b"NOPROTO unsupported protocol version"),
            };
            rest = tail;
        }
        let mut name = None;
        while let Some((option, tail)) = rest.split_first() {
            let mut option_buf = [0u8; 32];
            match (&*lower_name(option, &mut option_buf), tail) {
                (b"auth", [_user, password, more @ ..]) => {
                    if let Some(refused) = self.auth_quietly(password, server, out) {
                        return refused;
                    }
                    rest = more;
                }
                (b"setname", [client_name, more @ ..]) => {
                    if !valid_client_name(client_name) {
                        return out.error_text(bad_name_text());
                    }
                    name = Some(client_name.to_vec());
                    rest = more;
                }
                _ => {
                    let text = format!("ERR Syntax error in HELLO option '{}'", String::from_utf8_lossy(option));
                    return out.error_text(text.as_bytes());
                }
            }
        }
        if !self.authed {
            return out
                .error_text(b"NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time");
        }
        if name.is_some() {
            self.name = name;
        }
        self.wire = wire;
        let proto = if wire == Wire::Resp3 { 3 } else { 2 };
        let field = |k: &str, v: Reply| (Reply::from(k), v);
        let map = Reply::Map(vec![
            field("server", Reply::from("netcore")),
            field("version", Reply::from(env!("CARGO_PKG_VERSION"))),
            field("proto", Reply::Integer(proto)),
            field("id", Reply::Integer(self.id as i64)),
            field("mode", Reply::from("standalone")),
            field("role", Reply::from("master")),
            field("modules", Reply::Array(Vec::new())),
        ]);
        out.wire = wire;
        out.value(&map)
    }

    /// HELLO's AUTH: an error outcome, or None once authenticated (nothing written).
    fn auth_quietly(&mut self, password: &[u8], server: &ServerView<'_>, out: &mut ReplyOut<'_>) -> Option<Outcome> {
        let mut scratch = Vec::new();
        match self.auth(password, server, &mut ReplyOut::new(&mut scratch, out.wire)) {
            None => None,
            Some(outcome) => {
                out.buf.extend_from_slice(&scratch);
                Some(outcome)
            }
        }
    }

    fn client(&mut self, args: &[&[u8]], server: &ServerView<'_>, out: &mut ReplyOut<'_>) -> Outcome {
        let Some((sub, rest)) = args.split_first() else {
            return wrong_arity(b"client", out);
        };
        let mut sub_buf = [0u8; 32];
        match (&*lower_name(sub, &mut sub_buf), rest) {
            (b"setname", [name]) => {
                if !valid_client_name(name) {
                    return out.error_text(bad_name_text());
                }
                self.name = (!name.is_empty()).then(|| name.to_vec());
                out.simple(b"OK")
            }
            (b"getname", []) => match &self.name {
                Some(name) => out.bulk(name),
                None => out.null(),
            },
            (b"id", []) => out.integer(self.id as i64),
            (b"setinfo", [attr, value]) => {
                let mut attr_buf = [0u8; 32];
                match &*lower_name(attr, &mut attr_buf) {
                    b"lib-name" => self.lib_name = Some(value.to_vec()),
                    b"lib-ver" => self.lib_ver = Some(value.to_vec()),
                    _ => {
                        let text = format!("ERR Unrecognized option '{}'", String::from_utf8_lossy(attr));
                        return out.error_text(text.as_bytes());
                    }
                }
                out.simple(b"OK")
            }
            (b"info", []) => {
                let lossy =
                    |v: &Option<Vec<u8>>| v.as_deref().map(String::from_utf8_lossy).unwrap_or_default().into_owned();
                let text = format!(
                    "id={} addr={} name={} resp={} lib-name={} lib-ver={}\n",
                    self.id,
                    server.peer,
                    lossy(&self.name),
                    if self.wire == Wire::Resp3 { 3 } else { 2 },
                    lossy(&self.lib_name),
                    lossy(&self.lib_ver)
                );
                out.value(&Reply::Verbatim(text))
            }
            (b"setname" | b"getname" | b"id" | b"setinfo" | b"info", _) => {
                let text = format!(
                    "ERR wrong number of arguments for 'client|{}' command",
                    String::from_utf8_lossy(sub).to_lowercase()
                );
                out.error_text(text.as_bytes())
            }
            _ => {
                let text = format!("ERR unknown subcommand '{}'. Try CLIENT HELP.", String::from_utf8_lossy(sub));
                out.error_text(text.as_bytes())
            }
        }
    }
}

fn valid_client_name(name: &[u8]) -> bool {
    name.iter().all(|&b| (b'!'..=b'~').contains(&b))
}

fn bad_name_text() -> &'static [u8] {
    b"ERR Client names cannot contain spaces, newlines or special characters."
}

/// One command as COMMAND and COMMAND DOCS describe it: name, arity, summary, arguments
/// (name, optional).
type CommandInfo = (String, i64, String, Vec<(String, bool)>);

/// The commands this server answers, built-ins first.
fn commands(d: &Dispatcher) -> Vec<CommandInfo> {
    let seed = d.service == crate::server::Service::Command;
    let mut all: Vec<CommandInfo> = BUILTINS
        .iter()
        .filter(|b| seed || !b.seed)
        .map(|b| {
            let args = b.args.iter().map(|(n, optional)| (n.to_string(), *optional)).collect();
            (b.name.to_string(), b.arity, b.summary.to_string(), args)
        })
        .collect();
    for name in d.user_command_names() {
        let name = String::from_utf8_lossy(&name).into_owned();
        all.retain(|c| c.0 != name);
        // A user command's arity is not known: -1 (any number of arguments).
        all.push((name, -1, "A user command.".into(), Vec::new()));
    }
    all
}

fn command(args: &[&[u8]], d: &Dispatcher, out: &mut ReplyOut<'_>) -> Outcome {
    let all = commands(d);
    let mut sub_buf = [0u8; 32];
    let sub = args.first().map(|s| lower_name(s, &mut sub_buf));
    match sub.as_deref() {
        None => {
            let entry = |(name, arity, _, _): &CommandInfo| {
                let none = || Reply::Array(Vec::new());
                Reply::Array(vec![
                    Reply::from(name.as_str()),
                    Reply::Integer(*arity),
                    none(),
                    Reply::Integer(0),
                    Reply::Integer(0),
                    Reply::Integer(0),
                    none(),
                    none(),
                    none(),
                    none(),
                ])
            };
            out.value(&Reply::Array(all.iter().map(entry).collect()))
        }
        Some(b"count") => out.integer(all.len() as i64),
        Some(b"docs") => {
            let wanted: Vec<String> = args[1..].iter().map(|a| String::from_utf8_lossy(a).to_lowercase()).collect();
            let docs = all
                .iter()
                .filter(|c| wanted.is_empty() || wanted.contains(&c.0))
                .map(|(name, _, summary, arguments)| {
                    let arguments = arguments
                        .iter()
                        .map(|(arg, optional)| {
                            let mut fields = vec![
                                (Reply::from("name"), Reply::from(arg.as_str())),
                                (Reply::from("type"), Reply::from("string")),
                            ];
                            if *optional {
                                fields
                                    .push((Reply::from("flags"), Reply::Array(vec![Reply::Simple("optional".into())])));
                            }
                            Reply::Map(fields)
                        })
                        .collect();
                    let doc = Reply::Map(vec![
                        (Reply::from("summary"), Reply::from(summary.as_str())),
                        (Reply::from("since"), Reply::from("1.0.0")),
                        (Reply::from("group"), Reply::from("generic")),
                        (Reply::from("arguments"), Reply::Array(arguments)),
                    ]);
                    (Reply::from(name.as_str()), doc)
                })
                .collect();
            out.value(&Reply::Map(docs))
        }
        Some(other) => {
            let text = format!("ERR unknown subcommand '{}'. Try COMMAND HELP.", String::from_utf8_lossy(other));
            out.error_text(text.as_bytes())
        }
    }
}

/// INFO in redis's format: `# Section` headers and `key:value` lines.
fn info(args: &[&[u8]], server: &ServerView<'_>, out: &mut ReplyOut<'_>) -> Outcome {
    let s = (server.stats)();
    let sections: [(&str, Vec<(&str, String)>); 3] = [
        (
            "Server",
            vec![
                ("netcore_version", env!("CARGO_PKG_VERSION").to_string()),
                ("redis_mode", "standalone".into()),
                ("service", server.dispatcher.service.name().into()),
                ("os", std::env::consts::OS.into()),
                ("arch_bits", (usize::BITS).to_string()),
                ("process_id", std::process::id().to_string()),
                ("uptime_in_seconds", server.uptime_s.to_string()),
            ],
        ),
        ("Clients", vec![("connected_clients", s.connections_open.to_string())]),
        (
            "Stats",
            vec![
                ("total_connections_received", s.connections_total.to_string()),
                ("total_commands_processed", s.requests.to_string()),
                ("total_net_input_bytes", s.bytes_in.to_string()),
                ("total_net_output_bytes", s.bytes_out.to_string()),
                ("rejected_connections", s.rejected.to_string()),
                ("total_error_replies", s.errors.to_string()),
            ],
        ),
    ];
    let wanted: Vec<String> = args.iter().map(|a| String::from_utf8_lossy(a).to_lowercase()).collect();
    let every = wanted.is_empty() || wanted.iter().any(|w| w == "all" || w == "everything" || w == "default");
    let mut text = String::new();
    for (title, fields) in &sections {
        if !every && !wanted.contains(&title.to_lowercase()) {
            continue;
        }
        if !text.is_empty() {
            text.push_str("\r\n");
        }
        text.push_str(&format!("# {title}\r\n"));
        for (k, v) in fields {
            text.push_str(&format!("{k}:{v}\r\n"));
        }
    }
    out.value(&Reply::Verbatim(text))
}
