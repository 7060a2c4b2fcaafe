//! The exit codes of every subcommand, in one table: `--help` (the whole table under
//! `netcore --help`, each subcommand's own rows under its `--help`) and `docs/client.md`
//! are rendered from it, and the tests check both the docs and the real exits against it.

use super::gopher::{EXIT_CONNECT, EXIT_LOOKUP, EXIT_NOT_FOUND, EXIT_RECEIVE, EXIT_SEND};
use super::{EXIT_FAILURE, EXIT_USAGE};

/// One row: an exit code, the subcommands it applies to (empty: all of them), what it means.
pub struct Row {
    pub code: i32,
    pub commands: &'static [&'static str],
    pub meaning: &'static str,
}

/// Every subcommand, in `--help` order.
#[cfg(test)]
const COMMANDS: &[&str] = &["resolve", "port", "serve", "client", "send", "bench", "gopher", "fetch"];

const fn row(code: i32, commands: &'static [&'static str], meaning: &'static str) -> Row {
    Row { code, commands, meaning }
}

pub const TABLE: &[Row] = &[
    row(0, &[], "success"),
    row(0, &["serve"], "stopped by Ctrl+C (SIGINT) or SIGTERM"),
    row(
        0,
        &["client"],
        "end of input, Ctrl+C or Ctrl+D, the server closing after a quit/exit the client sent, \
         or a server that hangs up right after its greeting",
    ),
    row(0, &["bench"], "every reply arrived and matched (also when Ctrl+C stopped it early)"),
    row(EXIT_FAILURE, &["resolve"], "the name did not resolve"),
    row(EXIT_FAILURE, &["port"], "no such service or port"),
    row(EXIT_FAILURE, &["serve"], "cannot listen (the address is in use, ...) or start"),
    row(
        EXIT_FAILURE,
        &["client", "send"],
        "cannot connect, no reply within --timeout, or the server closed the connection unasked",
    ),
    row(EXIT_FAILURE, &["bench"], "cannot connect, or any request failed (the summary says how many and why)"),
    row(EXIT_FAILURE, &["fetch"], "a network error, or an HTTP status outside 2xx"),
    row(EXIT_FAILURE, &["gopher"], "writing the output failed"),
    row(EXIT_USAGE, &[], "usage error: a bad option, argument or value"),
    row(EXIT_LOOKUP, &["gopher"], "look-up failed (unknown host)"),
    row(EXIT_CONNECT, &["gopher"], "connect failed (refused, unreachable, timed out)"),
    row(EXIT_SEND, &["gopher"], "sending the selector failed"),
    row(EXIT_RECEIVE, &["gopher"], "receiving the reply failed"),
    row(EXIT_NOT_FOUND, &["gopher"], "selector not found (the server sent an error item)"),
];

/// What Ctrl+C does where the table has no row for it.
pub const CTRL_C_NOTE: &str = "Ctrl+C ends send, gopher and fetch at once (killed by SIGINT: a shell shows 130).";

fn applies(row: &Row, command: &str) -> bool {
    row.commands.is_empty() || row.commands.contains(&command)
}

fn commands_of(row: &Row) -> String {
    if row.commands.is_empty() {
        "all".into()
    } else {
        row.commands.join(", ")
    }
}

/// The whole table, for `netcore --help`.
pub fn table() -> String {
    let mut s = String::from("Exit codes (every subcommand):\n  code  command         meaning\n");
    for r in TABLE {
        s += &format!("  {:<4}  {:<14}  {}\n", r.code, commands_of(r), r.meaning);
    }
    s + CTRL_C_NOTE
}

/// `command`'s rows, for its own `--help`.
pub fn rows_for(command: &str) -> String {
    let mut s = String::from("Exit codes:\n");
    for r in TABLE.iter().filter(|r| applies(r, command)) {
        s += &format!("  {:<3} {}\n", r.code, r.meaning);
    }
    s.trim_end().to_string()
}

/// A subcommand's `after_help`: its examples, then its exit codes.
pub fn help(command: &str, examples: &str) -> String {
    format!("Examples:\n{}\n\n{}", examples.trim_end(), rows_for(command))
}

/// The table as `docs/client.md` shows it.
#[cfg(test)]
fn markdown() -> String {
    let mut s = String::from("| code | command | meaning |\n|---|---|---|\n");
    for r in TABLE {
        s += &format!("| {} | {} | {} |\n", r.code, commands_of(r), r.meaning);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_docs_show_the_same_table() {
        let docs = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/client.md")).unwrap();
        assert!(docs.contains(&markdown()), "docs/client.md must contain, verbatim:\n{}", markdown());
        assert!(docs.contains(CTRL_C_NOTE));
    }

    #[test]
    fn every_row_names_real_subcommands_and_every_subcommand_has_its_codes() {
        for r in TABLE {
            for c in r.commands {
                assert!(COMMANDS.contains(c), "{c}");
            }
        }
        for c in COMMANDS {
            let rows = rows_for(c);
            assert!(rows.contains("\n  0 ") && rows.contains("\n  2 "), "{c}: {rows}");
        }
    }
}
