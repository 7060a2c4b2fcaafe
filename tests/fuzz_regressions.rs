//! Every input a fuzz target (fuzz/) found a crash with, checked on stable on every change.
//! Add each new crash here with the invariant it broke.

use netcore::client::url::gopher_url_parts;

/// fuzz target url_parse: `gopher://]/˂` — an item type of more than one byte made the
/// selector slice start inside a character (a panic in `&path[2..]`).
#[test]
fn gopher_url_with_a_multibyte_item_type() {
    let url = format!("gopher://{}", String::from_utf8(vec![0x5d, 0x2f, 0xcb, 0xa2]).unwrap());
    assert_eq!(gopher_url_parts(&url).unwrap(), ("]".to_string(), 70, String::new()));
    assert_eq!(gopher_url_parts("gopher://h/é/sel").unwrap().2, "/sel");
    assert_eq!(gopher_url_parts("gopher://h/€").unwrap().2, "");
}
