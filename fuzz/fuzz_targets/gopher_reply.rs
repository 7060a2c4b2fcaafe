//! The Gopher client's reply head parser (is it an error item, and its text).
#![no_main]

use libfuzzer_sys::fuzz_target;
use netcore::client::gopher::{error_item_text, is_error_item};

fuzz_target!(|head: &[u8]| {
    let text = error_item_text(head);
    assert_eq!(text.is_some(), is_error_item(head));
    if let Some(text) = text {
        assert!(!text.contains(['\t', '\n']), "{text:?}");
        assert_eq!(text, text.trim());
    }
});
