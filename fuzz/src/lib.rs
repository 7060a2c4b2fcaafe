//! What several fuzz targets share: one trap-filled tree for `ls` per fuzzing process.

use std::sync::OnceLock;

use netcore::server::testing::SymlinkTree;

pub fn tree() -> &'static SymlinkTree {
    static TREE: OnceLock<SymlinkTree> = OnceLock::new();
    TREE.get_or_init(|| SymlinkTree::new().expect("a temporary tree"))
}

/// The names an `ls` JSON reply holds, or `None` when it is not a JSON array of strings.
pub fn ls_names(reply: &[u8]) -> Option<Vec<String>> {
    serde_json::from_slice::<Vec<String>>(reply).ok()
}
