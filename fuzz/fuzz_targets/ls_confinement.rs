//! `ls` path confinement on a real tree with symlinks that lead out, up, in circles and
//! nowhere: whatever the path, a listing is of a directory inside the root.
#![no_main]

use std::path::{Component, Path};

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use netcore::server::testing::list_confined;
use netcore_fuzz::tree;

#[derive(Arbitrary, Debug)]
enum Part {
    /// A name from the tree (or one of a few that are not there).
    Name(u8),
    Parent,
    Current,
    Empty,
    Raw(String),
}

#[derive(Arbitrary, Debug)]
struct Input {
    absolute: bool,
    parts: Vec<Part>,
    trailing_slash: bool,
}

fuzz_target!(|input: Input| {
    let tree = tree();
    let parts: Vec<&str> = input
        .parts
        .iter()
        .take(32)
        .map(|p| match p {
            Part::Name(i) => tree.parts[*i as usize % tree.parts.len()].as_str(),
            Part::Parent => "..",
            Part::Current => ".",
            Part::Empty => "",
            Part::Raw(s) => s.as_str(),
        })
        .collect();
    let mut path = parts.join("/");
    if input.absolute {
        path.insert(0, '/');
    }
    if input.trailing_slash {
        path.push('/');
    }
    let result = list_confined(&tree.root, &path);
    let rel = Path::new(&path);
    if rel.is_absolute() || rel.components().any(|c| c == Component::ParentDir) {
        assert!(result.is_err(), "{path:?} must be refused: {result:?}");
    }
    if let Ok(names) = result {
        let real = tree.root.join(rel).canonicalize().expect("a listed path exists");
        assert!(real.starts_with(&tree.root), "{path:?} listed {real:?}, outside the root");
        tree.check_listing(&names);
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted, "listings are sorted");
    }
});
