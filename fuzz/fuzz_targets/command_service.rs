//! The command, greet and echo services' request handling: any request bytes get a
//! well-formed answer, and `ls` never lists a name from outside the served root.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use netcore::server::testing::Dispatch;
use netcore::server::{Service, Transport};
use netcore_fuzz::{ls_names, tree};

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Which {
    Command,
    Greet,
    Echo,
}

#[derive(Arbitrary, Debug)]
enum Line {
    /// `ls` and path parts from the tree joined by `/`.
    Ls(Vec<u8>),
    /// A built-in command word and raw argument bytes.
    Builtin(u8, Vec<u8>),
    Raw(Vec<u8>),
}

#[derive(Arbitrary, Debug)]
struct Input {
    service: Which,
    udp: bool,
    lines: Vec<Line>,
}

const WORDS: [&str; 8] = ["date", "os", "ls", "help", "quit", "exit", "welcome", "LS"];

fn line_bytes(line: &Line) -> Vec<u8> {
    let tree = tree();
    match line {
        Line::Ls(picks) => {
            let parts: Vec<&str> = picks.iter().map(|&i| tree.parts[i as usize % tree.parts.len()].as_str()).collect();
            format!("ls {}", parts.join("/")).into_bytes()
        }
        Line::Builtin(word, args) => {
            let mut b = WORDS[*word as usize % WORDS.len()].as_bytes().to_vec();
            b.push(b' ');
            b.extend_from_slice(args);
            b
        }
        Line::Raw(b) => b.clone(),
    }
}

fuzz_target!(|input: Input| {
    let tree = tree();
    let service = match input.service {
        Which::Command => Service::Command,
        Which::Greet => Service::Greet,
        Which::Echo => Service::Echo,
    };
    let dispatch = Dispatch::new(service, Some(&tree.root)).expect("root");
    let transport = if input.udp { Transport::Udp } else { Transport::Tcp };
    for line in input.lines.iter().take(64) {
        let bytes = line_bytes(line);
        let answer = dispatch.answer(&bytes, transport);
        if !matches!(input.service, Which::Echo) {
            assert_eq!(answer.error, answer.reply.starts_with(b"error: ") && answer.replied, "{answer:?}");
        }
        match input.service {
            Which::Echo => assert_eq!(answer.reply, bytes),
            Which::Greet if bytes == b"exit" => assert!(answer.close && !answer.replied),
            Which::Greet if !answer.error => {
                let bang: &[u8] = if input.udp { b"" } else { b"!" };
                assert_eq!(answer.reply, [b"Hello, ".as_slice(), &bytes, bang].concat());
            }
            Which::Greet => {}
            Which::Command => {
                assert!(answer.replied);
                if answer.close {
                    assert_eq!(answer.reply, b"bye");
                }
                if bytes.starts_with(b"ls") && answer.reply.starts_with(b"[") {
                    let names = ls_names(&answer.reply).expect("an ls reply is a JSON array of strings");
                    tree.check_listing(&names);
                }
            }
        }
    }
});
