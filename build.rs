// Gives the C library a SONAME so programs link against the ABI major version,
// not the unversioned development symlink. The Python extension needs none.
fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let is_linux = std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux");
    let python = std::env::var_os("CARGO_FEATURE_PYTHON").is_some();
    if is_linux && !python {
        let major = std::env::var("CARGO_PKG_VERSION_MAJOR").unwrap();
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libnetcore.so.{major}");
    }
}
