//! Byte scanning on the request path: line breaks, line endings, token comparison.

/// Requests and replies are mostly short: up to this length a plain scan finds a line break
/// sooner than memchr, whose vector set-up costs more than the search (measured with
/// callgrind: memchr2 took about 100 instructions on a 7-byte reply).
const SHORT_SCAN: usize = 32;

/// Where the first `\n` in `bytes` is.
pub(super) fn find_newline(bytes: &[u8]) -> Option<usize> {
    let head = &bytes[..bytes.len().min(SHORT_SCAN)];
    match head.iter().position(|&b| b == b'\n') {
        Some(i) => Some(i),
        None if bytes.len() > head.len() => memchr::memchr(b'\n', &bytes[head.len()..]).map(|i| head.len() + i),
        None => None,
    }
}

/// Whether `bytes` hold a `\n` or `\r`. Short ones are checked eight bytes at a time.
pub(super) fn has_line_break(bytes: &[u8]) -> bool {
    if bytes.len() > SHORT_SCAN {
        return memchr::memchr2(b'\n', b'\r', bytes).is_some();
    }
    const ONES: u64 = u64::from_ne_bytes([1; 8]);
    const HIGH_BITS: u64 = u64::from_ne_bytes([0x80; 8]);
    // Whether any byte of `word` is `byte` (the classic "has a zero byte" test on word ^ byte).
    let holds = |word: u64, byte: u8| {
        let x = word ^ (ONES * u64::from(byte));
        x.wrapping_sub(ONES) & !x & HIGH_BITS != 0
    };
    let has_break = |word: u64| holds(word, b'\n') || holds(word, b'\r');
    let mut words = bytes.chunks_exact(8);
    // The last bytes are packed into a word below zero bytes, which are neither.
    words.any(|word| has_break(u64::from_ne_bytes(word.try_into().unwrap_or_default())))
        || has_break(words.remainder().iter().fold(0, |word, &b| word << 8 | u64::from(b)))
}

pub(super) fn strip_line_ending(b: &[u8]) -> &[u8] {
    let b = b.strip_suffix(b"\n").unwrap_or(b);
    b.strip_suffix(b"\r").unwrap_or(b)
}

pub(super) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_break_scans_agree_with_a_plain_search_at_every_length_and_position() {
        for len in 0..80 {
            let clean = vec![b'a'; len];
            assert_eq!(find_newline(&clean), None);
            assert!(!has_line_break(&clean));
            for pos in 0..len {
                for (byte, newline) in [(b'\n', Some(pos)), (b'\r', None)] {
                    let mut bytes = clean.clone();
                    bytes[pos] = byte;
                    assert_eq!(find_newline(&bytes), newline, "len {len}, {byte} at {pos}");
                    assert!(has_line_break(&bytes), "len {len}, {byte} at {pos}");
                }
            }
        }
        // Neighbours of the two bytes (0x0a, 0x0d) and high bytes are no line breaks.
        assert!(!has_line_break(b"\x09\x0b\x0c\x0e\x8a\x8d\xff\x00\x09\x0b\x0c\x0e\x8a"));
    }
}
