//! What several fuzz targets share: one trap-filled tree for `ls` per fuzzing process.

use std::path::Path;
use std::sync::OnceLock;

use netcore::server::testing::SymlinkTree;

/// In a tmpfs (/dev/shm) where there is one: `ls` is file-system calls (canonicalize, a
/// readlink per path part, read_dir), and on this machine's ext4 /tmp they made
/// command_service half as fast. The confinement rules are the same on any file system.
pub fn tree() -> &'static SymlinkTree {
    static TREE: OnceLock<SymlinkTree> = OnceLock::new();
    TREE.get_or_init(|| {
        let shm = Path::new("/dev/shm");
        let parent = if shm.is_dir() { shm.to_path_buf() } else { std::env::temp_dir() };
        SymlinkTree::new_in(&parent).expect("a temporary tree")
    })
}

/// The names an `ls` JSON reply holds, or `None` when it is not a JSON array of strings.
pub fn ls_names(reply: &[u8]) -> Option<Vec<String>> {
    serde_json::from_slice::<Vec<String>>(reply).ok()
}
