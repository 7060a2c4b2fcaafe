//! Hooks for the fuzz targets (`fuzz/`) and the property tests (`tests/prop_*.rs`): the
//! request path without sockets, so a fuzzer can run it millions of times a minute. Hidden
//! from the docs and not part of the API; the behaviour is exactly the engine's, because
//! these call the same functions the engine calls.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use super::config::Service;
use super::reply::{ReplyOut, Wire};
use super::service::{Answer as Answered, Dispatcher, Request, Transport};

/// What one request got: the raw reply bytes (before framing) and the outcome flags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub replied: bool,
    pub error: bool,
    pub close: bool,
    pub reply: Vec<u8>,
}

/// A built-in service's dispatcher, without user commands.
pub struct Dispatch(Dispatcher);

impl Dispatch {
    /// `root` is canonicalized here, as `Server::start` does.
    pub fn new(service: Service, root: Option<&Path>) -> std::io::Result<Dispatch> {
        let root = root.map(Path::canonicalize).transpose()?;
        Ok(Dispatch(Dispatcher::new(service, root, HashMap::new(), None)))
    }

    /// Answers one request line (its line ending already removed).
    pub fn answer(&self, line: &[u8], transport: Transport) -> Answer {
        let mut reply = Vec::new();
        let request = Request::from_line(line, "fuzz", transport);
        match self.0.dispatch(&request, &mut ReplyOut::new(&mut reply, Wire::Text)) {
            Answered::Ready(o) => Answer { replied: o.replied, error: o.error, close: o.close, reply },
            // Built-in services answer at once; only user handlers answer later.
            Answered::Pending(_) => unreachable!("a built-in service answered later"),
        }
    }
}

/// `ls` path confinement: the names in `root/arg`, or the error text the client gets.
/// `root` must be canonical.
pub fn list_confined(root: &Path, arg: &str) -> Result<Vec<String>, String> {
    super::commands::list_confined(root, arg)
}

/// The reply `ls` sends for `names`.
pub fn json_array(names: &[String]) -> String {
    let names = super::Reply::Array(names.iter().map(|n| super::Reply::from(n.as_str())).collect());
    let mut text = Vec::new();
    ReplyOut::new(&mut text, Wire::Text).value(&names);
    String::from_utf8_lossy(&text).into_owned()
}

/// A directory outside the served root of a `SymlinkTree`; its name must never appear in an
/// `ls` reply.
pub const OUTSIDE_MARKER: &str = "OUTSIDE-THE-ROOT";

/// A served root full of traps for `ls` (symlinks out, up, to `/`, in a loop, dangling;
/// names with quotes, newlines and non-ASCII) and a directory beside it. Removed on drop.
pub struct SymlinkTree {
    _dirs: (tempfile::TempDir, tempfile::TempDir),
    /// The canonical root.
    pub root: PathBuf,
    /// Every name inside the root (symlinks count by their own name).
    pub inside_names: BTreeSet<String>,
    /// Names to build paths from: the tree's, plus some that are not there or are tricks.
    pub parts: Vec<String>,
}

impl SymlinkTree {
    /// The tree in the system's temporary directory.
    pub fn new() -> std::io::Result<SymlinkTree> {
        SymlinkTree::new_in(&std::env::temp_dir())
    }

    /// The tree (and the directory beside it) in `parent`.
    pub fn new_in(parent: &Path) -> std::io::Result<SymlinkTree> {
        use std::fs;
        use std::os::unix::fs::symlink;
        let outside = tempfile::tempdir_in(parent)?;
        fs::create_dir(outside.path().join(OUTSIDE_MARKER))?;
        fs::write(outside.path().join(OUTSIDE_MARKER).join(OUTSIDE_MARKER), "")?;
        let dir = tempfile::tempdir_in(parent)?;
        let root = dir.path().canonicalize()?;
        let r = |p: &str| root.join(p);
        fs::create_dir_all(r("a/b/c"))?;
        fs::create_dir(r("empty"))?;
        fs::create_dir(r("sp ace"))?;
        fs::write(r("file.txt"), "x")?;
        fs::write(r("a/quote\"back\\slash"), "")?;
        fs::write(r("a/b/line\nbreak"), "")?;
        fs::write(r("a/b/c/\u{fc}n\u{ef}"), "")?;
        symlink(outside.path(), r("out"))?;
        symlink(outside.path().join(OUTSIDE_MARKER), r("a/deep-out"))?;
        symlink("../..", r("a/b/up2"))?; // back to the root: allowed
        symlink("../../..", r("a/b/up3"))?; // one above the root: refused
        symlink("/", r("slash"))?;
        symlink(r("a/b"), r("ab"))?;
        symlink("loop", r("loop"))?;
        symlink("nowhere", r("dangling"))?;
        symlink("file.txt", r("to-file"))?;
        let mut inside_names = BTreeSet::new();
        collect_names(&root, &mut inside_names)?;
        let mut parts: Vec<String> = inside_names.iter().cloned().collect();
        parts.extend(["nope", OUTSIDE_MARKER, "", ".", "..", "~", "%2e%2e", "a/b", "\0"].map(String::from));
        Ok(SymlinkTree { _dirs: (outside, dir), root, inside_names, parts })
    }

    /// Panics unless every name is one inside the root.
    pub fn check_listing(&self, names: &[String]) {
        for name in names {
            assert!(name != OUTSIDE_MARKER, "ls listed a name from outside the root");
            assert!(self.inside_names.contains(name), "ls listed {name:?}, which is not inside the root");
        }
    }
}

/// Every name under `dir` (not following symlinks; the links' own names count).
fn collect_names(dir: &Path, names: &mut BTreeSet<String>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        names.insert(entry.file_name().to_string_lossy().into_owned());
        if entry.file_type()?.is_dir() {
            collect_names(&entry.path(), names)?;
        }
    }
    Ok(())
}
