//! The built-in commands: the `command` service's (seed 000: date, os, ls, help, quit) and,
//! over RESP, `PING` and `ECHO` for every command service. Names are matched without regard
//! to ASCII case. Connection-level RESP commands (HELLO, AUTH, CLIENT, ...) are in
//! `resp::session`.

use std::path::{Component, Path};

use super::reply::{Outcome, Reply, ReplyOut, Wire};
use super::service::{lower_name, Dispatcher, Request, Transport};

/// The command service's built-in commands (the seed's, plus `ping` and `stats` for load
/// balancers and operators).
pub(crate) const SEED_COMMANDS: &[&[u8]] = &[b"date", b"os", b"ls", b"help", b"quit", b"exit", b"ping", b"stats"];
/// The same, as `help` lists them.
const SEED_HELP: &[u8] = b"commands: date, os, ls [PATH], help, quit, exit, ping, stats";
/// What RESP framing adds to them.
const RESP_HELP: &[u8] = b", echo MESSAGE";

/// Answers the built-in command the request names; `None` if there is none of that name.
/// `seed`: the `command` service's own commands are there too.
/// Whether `name` is a built-in command here (`seed`: the command service's seed commands).
pub(crate) fn is_builtin(name: &[u8], seed: bool, wire: Wire) -> bool {
    let mut buf = [0u8; 32];
    let resp = wire != Wire::Text;
    match &*lower_name(name, &mut buf) {
        b"ping" => seed || resp,
        b"date" | b"os" | b"ls" | b"help" | b"quit" | b"exit" | b"stats" => seed,
        b"echo" => resp,
        _ => false,
    }
}

pub(crate) fn builtin(d: &Dispatcher, request: &Request<'_>, seed: bool, out: &mut ReplyOut<'_>) -> Option<Outcome> {
    let mut buf = [0u8; 32];
    let name = lower_name(request.command(), &mut buf);
    let resp = out.wire != Wire::Text;
    if !is_builtin(&name, seed, out.wire) {
        return None;
    }
    // Line framing: the arguments are the rest of the line; RESP: the array's elements.
    let args: &[&[u8]] = if resp { &request.argv[1.min(request.argv.len())..] } else { &[] };
    let rest = if resp { &[][..] } else { request.args() };
    // PING and ECHO are binary-safe, as redis's; the seed's commands take text.
    let binary_safe = resp && matches!(&*name, b"ping" | b"echo");
    for arg in args.iter().copied().chain([rest]) {
        if let Some(problem) = text_problem(arg).filter(|_| !binary_safe) {
            return Some(out.error(format_args!("{problem}")));
        }
    }
    let arity_ok = match &*name {
        b"ls" | b"ping" => args.len() <= 1,
        b"echo" => args.len() == 1,
        _ => args.is_empty(),
    };
    if !arity_ok {
        return Some(wrong_arity(request.command(), out));
    }
    Some(match &*name {
        b"date" => {
            let time = ctime_now();
            out.bulk_parts(&[b"[", time.as_bytes(), b"] date"])
        }
        b"os" => out.bulk(b"[posix]"),
        b"stats" => match d.stats_line() {
            Some(line) => out.bulk(line.as_bytes()),
            None => out.error(format_args!("stats are not available")),
        },
        b"ls" => {
            // Checked above: the argument is UTF-8 without NUL.
            let arg = std::str::from_utf8(args.first().copied().unwrap_or(rest)).unwrap_or_default();
            match d.list(arg) {
                Ok(names) => out.value(&Reply::Array(names.into_iter().map(Reply::from).collect())),
                Err(e) => out.error(format_args!("{e}")),
            }
        }
        b"help" => {
            let mut text = SEED_HELP.to_vec();
            if resp {
                text.extend_from_slice(RESP_HELP);
            }
            for user in d.user_command_names() {
                text.extend_from_slice(b", ");
                text.extend_from_slice(&user);
            }
            out.bulk(&text)
        }
        // The health check of load balancers (HAProxy's `tcp-check send ping`); over RESP
        // redis's PING.
        b"ping" if !resp => out.bulk(b"pong"),
        b"ping" => match args.first() {
            Some(msg) => out.bulk(msg),
            None => out.simple(b"PONG"),
        },
        b"echo" => out.bulk(args[0]),
        // quit, exit: RESP clients expect OK, as from redis.
        _ if resp => out.simple(b"OK").and_close(),
        _ => out.bulk(b"bye").and_close(),
    })
}

/// `ERR wrong number of arguments for 'x' command`, as redis says it.
pub(crate) fn wrong_arity(name: &[u8], out: &mut ReplyOut<'_>) -> Outcome {
    out.error(format_args!("ERR wrong number of arguments for '{}' command", String::from_utf8_lossy(name)))
}

/// Redis's words for a command nobody serves: the name and the first arguments.
pub(crate) fn unknown_command(request: &Request<'_>, out: &mut ReplyOut<'_>) -> Outcome {
    let mut args = String::new();
    for arg in request.argv.iter().skip(1) {
        if args.len() >= 128 {
            break;
        }
        let room = 128 - args.len();
        let text = String::from_utf8_lossy(arg);
        let cut: String = text.chars().take(room).collect();
        args.push_str(&format!("'{cut}' "));
    }
    let name: String = String::from_utf8_lossy(request.command()).chars().take(128).collect();
    out.error(format_args!("ERR unknown command '{name}', with args beginning with: {args}"))
}

impl Dispatcher {
    fn list(&self, arg: &str) -> Result<Vec<String>, String> {
        let root = match &self.root {
            Some(r) => r.clone(),
            None => {
                std::env::current_dir().and_then(|d| d.canonicalize()).map_err(|e| format!("no root directory: {e}"))?
            }
        };
        list_confined(&root, arg)
    }
}

/// Why bytes cannot be a built-in command's text, if they cannot.
pub(crate) fn text_problem(bytes: &[u8]) -> Option<&'static str> {
    // Checked for every built-in request, which is mostly a few ASCII bytes: one inlined
    // pass settles those without calling from_utf8 and memchr.
    if bytes.iter().all(|&b| b != 0 && b.is_ascii()) {
        return None;
    }
    if std::str::from_utf8(bytes).is_err() {
        Some("request is not valid UTF-8")
    } else if bytes.contains(&0) {
        Some("request contains a NUL byte")
    } else {
        None
    }
}

pub(crate) fn greet(request: &Request<'_>, out: &mut ReplyOut<'_>) -> Outcome {
    if request.line == b"exit" {
        return Outcome::CLOSE;
    }
    if let Some(problem) = text_problem(request.line) {
        return out.error(format_args!("{problem}"));
    }
    let exclamation: &[u8] = if request.transport == Transport::Udp { b"" } else { b"!" };
    out.bulk_parts(&[b"Hello, ", request.line, exclamation])
}

/// The names in `root/arg`, sorted. `arg` must be relative, without `..`, and must not lead
/// out of `root` through a symlink; `root` must be canonical.
pub(crate) fn list_confined(root: &Path, arg: &str) -> Result<Vec<String>, String> {
    let rel = Path::new(arg);
    if rel.is_absolute() {
        return Err(format!("absolute paths are not allowed: {arg}"));
    }
    if rel.components().any(|c| matches!(c, Component::ParentDir)) {
        return Err(format!("'..' is not allowed: {arg}"));
    }
    let full = root.join(rel);
    let real = full.canonicalize().map_err(|e| format!("cannot list {arg}: {}", io_text(&e)))?;
    if !real.starts_with(root) {
        return Err(format!("path leads out of the served root: {arg}"));
    }
    let entries = std::fs::read_dir(&real).map_err(|e| format!("cannot list {arg}: {}", io_text(&e)))?;
    let mut names: Vec<String> =
        entries.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    Ok(names)
}

fn io_text(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(n) => crate::error::strerror(n),
        None => e.to_string(),
    }
}

/// The local time as Python's `time.ctime()` shows it: `Mon Nov 23 13:02:29 2026`.
pub(crate) fn ctime_now() -> String {
    const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    // SAFETY: time and localtime_r write only into the locals given.
    let tm = unsafe {
        let now = libc::time(std::ptr::null_mut());
        let mut tm: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&now, &mut tm).is_null() {
            libc::gmtime_r(&now, &mut tm);
        }
        tm
    };
    format!(
        "{} {}{:3} {:02}:{:02}:{:02} {}",
        DAYS[tm.tm_wday.rem_euclid(7) as usize],
        MONTHS[tm.tm_mon.rem_euclid(12) as usize],
        tm.tm_mday,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec,
        tm.tm_year + 1900
    )
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Arc;

    use super::*;
    use crate::server::config::Service;
    use crate::server::service::{write_response, Answer, Handler, Response};

    fn req(line: &[u8]) -> Request<'_> {
        Request::from_line(line, "test", Transport::Tcp)
    }

    /// The outcome and the reply bytes, waiting for a handler that runs elsewhere.
    fn answer_in(d: &Dispatcher, request: &Request<'_>, wire: Wire) -> (Outcome, Vec<u8>) {
        let mut buf = Vec::new();
        let mut out = ReplyOut::new(&mut buf, wire);
        let outcome = match d.dispatch(request, &mut out) {
            Answer::Ready(o) => o,
            Answer::Pending(rx) => write_response(rx.blocking_recv().unwrap().remove(0), &mut out),
        };
        (outcome, buf)
    }

    fn answer(d: &Dispatcher, request: &Request<'_>) -> (Outcome, Vec<u8>) {
        answer_in(d, request, Wire::Text)
    }

    fn reply(d: &Dispatcher, line: &[u8]) -> Vec<u8> {
        answer(d, &req(line)).1
    }

    /// A RESP request's reply, as text.
    fn resp(d: &Dispatcher, argv: &[&[u8]]) -> String {
        let line = argv.join(&b' ');
        let request = Request { line: &line, argv, peer: "test", transport: Transport::Tcp, peer_cert: None };
        String::from_utf8(answer_in(d, &request, Wire::Resp2).1).unwrap()
    }

    #[test]
    fn ctime_looks_like_pythons() {
        let t = ctime_now();
        assert_eq!(t.len(), 24, "{t}");
        assert_eq!(&t[3..4], " ");
        assert_eq!(&t[13..14], ":");
    }

    #[test]
    fn command_builtins() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("b.txt"), "").unwrap();
        std::fs::create_dir(dir.path().join("a")).unwrap();
        std::fs::write(dir.path().join("a/x\"y"), "").unwrap();
        let d = Dispatcher::new(Service::Command, Some(dir.path().canonicalize().unwrap()), HashMap::new(), None);
        assert_eq!(reply(&d, b"os"), b"[posix]");
        assert_eq!(reply(&d, b"ls"), br#"["a", "b.txt"]"#);
        assert_eq!(reply(&d, b"ls a"), br#"["x\"y"]"#);
        assert_eq!(reply(&d, b"hello"), b"welcome");
        assert!(reply(&d, b"date").ends_with(b"] date"));
        assert_eq!(reply(&d, b"ls ../"), b"error: '..' is not allowed: ../");
        assert_eq!(reply(&d, b"ls /etc"), b"error: absolute paths are not allowed: /etc");
        assert!(reply(&d, b"ls nope").starts_with(b"error: cannot list nope: No such file"));
        assert_eq!(reply(&d, b"\xff\xfe"), b"error: request is not valid UTF-8");
        assert_eq!(reply(&d, b"ls a\0b"), b"error: request contains a NUL byte");
        assert_eq!(answer(&d, &req(b"quit")), (Outcome::REPLY.and_close(), b"bye".to_vec()));
        // Over RESP the same commands answer typed values.
        assert_eq!(resp(&d, &[b"LS"]), "*2\r\n$1\r\na\r\n$5\r\nb.txt\r\n");
        assert_eq!(resp(&d, &[b"os"]), "$7\r\n[posix]\r\n");
        assert_eq!(resp(&d, &[b"ls", b"a", b"b"]), "-ERR wrong number of arguments for 'ls' command\r\n");
        assert_eq!(resp(&d, &[b"Ping"]), "+PONG\r\n");
        assert_eq!(resp(&d, &[b"ping", b"a b"]), "$3\r\na b\r\n");
        assert_eq!(resp(&d, &[b"echo", b"\0\r\n"]), "$3\r\n\0\r\n\r\n");
        assert_eq!(resp(&d, &[b"ls", b"\0"]), "-ERR request contains a NUL byte\r\n");
        assert_eq!(resp(&d, &[b"echo"]), "-ERR wrong number of arguments for 'echo' command\r\n");
        assert_eq!(resp(&d, &[b"quit"]), "+OK\r\n");
        assert_eq!(
            resp(&d, &[b"nope", b"x", b"y"]),
            "-ERR unknown command 'nope', with args beginning with: 'x' 'y' \r\n"
        );
        assert_eq!(reply(&d, b"PING"), b"pong");
        assert_eq!(reply(&d, b"stats"), b"error: stats are not available");
        d.set_stats_source(Box::new(|| Some("requests=1".into())));
        assert_eq!(reply(&d, b"stats"), b"requests=1");
        assert!(d.is_command(b"ping") && d.is_command(b"DATE") && !d.is_command(b"hello"));
    }

    #[test]
    fn names_ignore_case_and_surrounding_whitespace() {
        let mut cmds: HashMap<Vec<u8>, Arc<dyn Handler>> = HashMap::new();
        cmds.insert(b"Hello".to_vec(), Arc::new(|r: &Request<'_>| Response::Reply(r.argv.join(&b'|'))));
        let d = Dispatcher::new(Service::Command, None, cmds, None);
        for line in [&b"DATE"[..], b"Date", b"  date  ", b"date\t"] {
            assert!(reply(&d, line).ends_with(b"] date"), "{:?}", String::from_utf8_lossy(line));
        }
        assert_eq!(reply(&d, b"HELLO a  b"), b"HELLO|a|b");
        d.add_command(b"hello", Arc::new(|_: &Request<'_>| Response::Reply(b"replaced".to_vec())));
        assert_eq!(d.user_command_names(), vec![b"hello".to_vec()]);
        assert_eq!(reply(&d, b"hElLo"), b"replaced");
        assert_eq!(reply(&d, b"help"), b"commands: date, os, ls [PATH], help, quit, exit, ping, stats, hello");
    }

    #[test]
    fn symlinks_out_of_the_root_are_refused() {
        let outside = tempfile::tempdir().unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("out")).unwrap();
        std::fs::create_dir(dir.path().join("in")).unwrap();
        std::os::unix::fs::symlink(dir.path().join("in"), dir.path().join("inside")).unwrap();
        let root = dir.path().canonicalize().unwrap();
        assert!(list_confined(&root, "out").unwrap_err().starts_with("path leads out of the served root"));
        assert_eq!(list_confined(&root, "inside").unwrap(), Vec::<String>::new());
    }

    #[test]
    fn greet_and_user_commands() {
        let d = Dispatcher::new(Service::Greet, None, HashMap::new(), None);
        assert_eq!(reply(&d, b"client1"), b"Hello, client1!");
        assert_eq!(answer(&d, &req(b"exit")), (Outcome::CLOSE, Vec::new()));
        let udp = Request::from_line(b"client1", "p", Transport::Udp);
        assert_eq!(answer(&d, &udp).1, b"Hello, client1");

        let mut cmds: HashMap<Vec<u8>, Arc<dyn Handler>> = HashMap::new();
        cmds.insert(
            b"len".to_vec(),
            Arc::new(|r: &Request<'_>| Response::Reply(r.args().len().to_string().into_bytes())),
        );
        cmds.insert(b"boom".to_vec(), Arc::new(|_: &Request<'_>| -> Response { panic!("handler bug") }));
        cmds.insert(
            b"typed".to_vec(),
            Arc::new(|_: &Request<'_>| {
                Response::Value(Reply::Array(vec![Reply::Integer(1), Reply::Null, Reply::from("x")]))
            }),
        );
        let d = Dispatcher::new(Service::Custom, None, cmds, None);
        assert_eq!(reply(&d, b"len \xff\x00\x01"), b"3");
        assert_eq!(reply(&d, b"boom"), b"error: internal error in handler");
        assert_eq!(reply(&d, b"nope x"), b"error: unknown command: nope");
        assert_eq!(reply(&d, b"typed"), br#"[1, null, "x"]"#);
        assert_eq!(resp(&d, &[b"typed"]), "*3\r\n:1\r\n$-1\r\n$1\r\nx\r\n");
        assert_eq!(resp(&d, &[b"boom"]), "-ERR internal error in handler\r\n");
        assert_eq!(resp(&d, &[b"PING"]), "+PONG\r\n");
        assert_eq!(resp(&d, &[b"date"]), "-ERR unknown command 'date', with args beginning with: \r\n");
    }
}
