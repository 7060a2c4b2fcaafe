//! `file:` and `gopher://` URL parsing: never a panic, and a parsed gopher URL written back
//! out parses to the same host, port and selector.
#![no_main]

use libfuzzer_sys::fuzz_target;
use netcore::client::url::{file_url_path, gopher_url_parts};

fn percent_encode(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("%{b:02X}")).collect()
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    for url in [text.to_string(), format!("file:{text}"), format!("gopher://{text}")] {
        if let Ok(path) = file_url_path(&url) {
            assert!(!path.as_os_str().is_empty(), "{url:?} gave an empty path");
        }
        if let Ok((host, port, selector)) = gopher_url_parts(&url) {
            if host.is_empty() || host.contains(['/', '[', ']']) || selector.contains('\u{fffd}') {
                continue; // not writable back as the same URL
            }
            let authority = if host.contains(':') { format!("[{host}]") } else { host.clone() };
            let again = format!("gopher://{authority}:{port}/1{}", percent_encode(selector.as_bytes()));
            let parsed = gopher_url_parts(&again).unwrap_or_else(|e| panic!("{again:?} from {url:?}: {e}"));
            assert_eq!(parsed, (host, port, selector), "{again:?} from {url:?}");
        }
    }
});
