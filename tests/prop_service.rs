//! Properties of the request handling, without sockets (the fuzz targets `command_service`
//! and `ls_confinement` check the same with coverage guidance; these guard them on stable on
//! every change, with a bounded number of cases).

use std::path::{Component, Path};
use std::sync::OnceLock;

use netcore::server::testing::{list_confined, Dispatch, SymlinkTree};
use netcore::server::{Service, Transport};
use proptest::prelude::*;

fn tree() -> &'static SymlinkTree {
    static TREE: OnceLock<SymlinkTree> = OnceLock::new();
    TREE.get_or_init(|| SymlinkTree::new().unwrap())
}

/// A path made of the tree's names, `..`, `.`, empty parts and a few raw strings.
fn path_strategy() -> impl Strategy<Value = String> {
    let part = prop_oneof![
        6 => (0..tree().parts.len()).prop_map(|i| tree().parts[i].clone()),
        1 => Just("..".to_string()),
        1 => Just(".".to_string()),
        1 => "[a-z./]{0,6}",
    ];
    (any::<bool>(), proptest::collection::vec(part, 0..6), any::<bool>()).prop_map(|(abs, parts, slash)| {
        let mut p = parts.join("/");
        if abs {
            p.insert(0, '/');
        }
        if slash {
            p.push('/');
        }
        p
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn ls_never_lists_outside_the_root(path in path_strategy()) {
        let t = tree();
        let result = list_confined(&t.root, &path);
        let rel = Path::new(&path);
        if rel.is_absolute() || rel.components().any(|c| c == Component::ParentDir) {
            prop_assert!(result.is_err(), "{path:?} must be refused: {result:?}");
        }
        if let Ok(names) = result {
            let real = t.root.join(rel).canonicalize().unwrap();
            prop_assert!(real.starts_with(&t.root), "{path:?} listed {real:?}");
            t.check_listing(&names);
        }
    }

    #[test]
    fn the_ls_command_replies_with_inside_names_or_an_error(path in path_strategy()) {
        let t = tree();
        let d = Dispatch::new(Service::Command, Some(&t.root)).unwrap();
        let a = d.answer(format!("ls {path}").as_bytes(), Transport::Tcp);
        prop_assert!(a.replied && !a.close);
        if a.error {
            prop_assert!(a.reply.starts_with(b"error: "), "{a:?}");
        } else {
            let names: Vec<String> = serde_json::from_slice(&a.reply).expect("a JSON array of strings");
            t.check_listing(&names);
        }
    }

    #[test]
    fn any_request_bytes_get_a_well_formed_answer(line in proptest::collection::vec(any::<u8>(), 0..64), udp: bool) {
        let transport = if udp { Transport::Udp } else { Transport::Tcp };
        let command = Dispatch::new(Service::Command, Some(&tree().root)).unwrap().answer(&line, transport);
        prop_assert!(command.replied);
        prop_assert_eq!(command.error, command.reply.starts_with(b"error: "));
        prop_assert!(!command.close || command.reply == b"bye");

        let greet = Dispatch::new(Service::Greet, None).unwrap().answer(&line, transport);
        if !greet.error && line != b"exit" {
            let bang: &[u8] = if udp { b"" } else { b"!" };
            prop_assert_eq!(greet.reply, [b"Hello, ".as_slice(), &line, bang].concat());
        }
        let echo = Dispatch::new(Service::Echo, None).unwrap().answer(&line, transport);
        prop_assert_eq!(echo.reply, line);
    }
}
