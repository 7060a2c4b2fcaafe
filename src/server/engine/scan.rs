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
    has_either::<b'\n', b'\r'>(bytes)
}

/// Whether `bytes` hold a NUL or an IAC (0xFF): the bytes a telnet client adds to lines
/// (CR NUL endings, option negotiation), which `strip_telnet` deals with.
pub(super) fn has_telnet_bytes(bytes: &[u8]) -> bool {
    has_either::<0, IAC>(bytes)
}

/// Whether `bytes` hold `A` or `B` (neither may be 0x01, the filler below). Short ones are
/// checked eight bytes at a time.
#[inline(always)]
fn has_either<const A: u8, const B: u8>(bytes: &[u8]) -> bool {
    if bytes.len() > SHORT_SCAN {
        return memchr::memchr2(A, B, bytes).is_some();
    }
    const ONES: u64 = u64::from_ne_bytes([1; 8]);
    const HIGH_BITS: u64 = u64::from_ne_bytes([0x80; 8]);
    // Whether any byte of `word` is `byte` (the classic "has a zero byte" test on word ^ byte).
    let holds = |word: u64, byte: u8| {
        let x = word ^ (ONES * u64::from(byte));
        x.wrapping_sub(ONES) & !x & HIGH_BITS != 0
    };
    let has = |word: u64| holds(word, A) || holds(word, B);
    let mut words = bytes.chunks_exact(8);
    // The last bytes are packed into a word below 0x01 bytes, which are neither.
    words.any(|word| has(u64::from_ne_bytes(word.try_into().unwrap_or_default())))
        || has(words.remainder().iter().fold(ONES, |word, &b| word << 8 | u64::from(b)))
}

/// Telnet's "interpret as command" byte (RFC 854).
const IAC: u8 = 0xFF;
/// Subnegotiation begin and end (IAC SB ... IAC SE).
const SB: u8 = 250;
const SE: u8 = 240;
/// Longest subnegotiation waited for; one without its end by then is data.
const MAX_TELNET_PENDING: usize = 512;

/// Telnet in line framing (RFC 854), for `input[from..]`, in place: CR NUL ends a line as CR
/// LF does (it becomes CR LF), and commands are dropped: IAC WILL/WONT/DO/DONT OPTION, IAC SB
/// ... IAC SE (MAX_TELNET_PENDING bytes at most), IAC NOP/GA/... (any IAC followed by 240-249), none of them across a line
/// break. An IAC followed by anything else (IAC IAC included) and NULs after other bytes are
/// data and stay. A command cut off at the
/// end of `input` moves to `pending`, which the next call puts back in front of the new bytes.
pub(super) fn strip_telnet(input: &mut Vec<u8>, from: usize, pending: &mut Vec<u8>) {
    if !pending.is_empty() {
        input.splice(from..from, pending.drain(..));
    }
    let (mut read, mut write) = (from, from);
    while read < input.len() {
        let b = input[read];
        let command_len = match (b, input.get(read + 1).copied()) {
            (0, _) if write > 0 && input[write - 1] == b'\r' => {
                input[write] = b'\n';
                write += 1;
                read += 1;
                continue;
            }
            (IAC, None) => None,
            (IAC, Some(IAC)) => {
                // An escaped data byte 0xFF: kept as both bytes, so no binary input changes.
                input.copy_within(read..read + 2, write);
                write += 2;
                read += 2;
                continue;
            }
            // Never across a line break: "\xff\xfe\n" from a binary client stays a line.
            (IAC, Some(251..=254)) => match input.get(read + 2) {
                None => None,
                Some(b'\n' | b'\r') => Some(0),
                Some(_) => Some(3),
            },
            // Decided by its first MAX_TELNET_PENDING bytes, however the reads cut them (a
            // decision at the end of whichever read passed the limit depended on the cuts;
            // found by fuzzing): IAC SE before a line break ends it; a line break first, or
            // neither that soon, and the IAC was data.
            (IAC, Some(SB)) => {
                let window = &input[read + 2..input.len().min(read + MAX_TELNET_PENDING)];
                let line_end = window.iter().position(|&b| b == b'\n').unwrap_or(window.len());
                match window[..line_end].windows(2).position(|w| w == [IAC, SE]) {
                    Some(end) => Some(end + 4),
                    None if line_end < window.len() || input.len() - read >= MAX_TELNET_PENDING => Some(0),
                    None => None,
                }
            }
            (IAC, Some(240..=249)) => Some(2),
            _ => {
                input[write] = b;
                write += 1;
                read += 1;
                continue;
            }
        };
        match command_len {
            Some(0) => {
                // Not a command after all: the IAC is data.
                input[write] = b;
                write += 1;
                read += 1;
            }
            Some(len) => read += len,
            None => {
                // Cut off: wait for the rest (fewer than MAX_TELNET_PENDING bytes).
                pending.extend_from_slice(&input[read..]);
                break;
            }
        }
    }
    input.truncate(write);
}

pub(super) fn strip_line_ending(b: &[u8]) -> &[u8] {
    let b = b.strip_suffix(b"\n").unwrap_or(b);
    b.strip_suffix(b"\r").unwrap_or(b)
}

pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
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

    #[test]
    fn telnet_bytes_are_found_at_every_length_and_position() {
        for len in 0..80 {
            let clean = vec![b'a'; len];
            assert!(!has_telnet_bytes(&clean), "len {len}");
            for pos in 0..len {
                for byte in [0, 0xFF] {
                    let mut bytes = clean.clone();
                    bytes[pos] = byte;
                    assert!(has_telnet_bytes(&bytes), "len {len}, {byte} at {pos}");
                }
            }
        }
        assert!(!has_telnet_bytes(b"\x01\x01\xfe\x7f\x80\r\n"));
    }

    /// `strip_telnet` over `chunks` arriving one after another, as the line path calls it.
    fn stripped(chunks: &[&[u8]]) -> (Vec<u8>, Vec<u8>) {
        let (mut input, mut pending) = (Vec::new(), Vec::new());
        for chunk in chunks {
            let from = input.len();
            input.extend_from_slice(chunk);
            strip_telnet(&mut input, from, &mut pending);
        }
        (input, pending)
    }

    #[test]
    fn telnet_cr_nul_ends_lines_and_commands_vanish() {
        // What Debian's telnet sends in character mode: DO SGA, DO ECHO, then `os` CR NUL.
        assert_eq!(stripped(&[b"\xff\xfd\x03\xff\xfd\x01os\r\x00"]).0, b"os\r\n");
        assert_eq!(stripped(&[b"date\r\x00os\r\x00"]).0, b"date\r\nos\r\n");
        // Subnegotiation (terminal type), NOP and GA are dropped; IAC IAC and other bytes stay.
        let (out, pending) = stripped(&[b"\xff\xfa\x18\x00xterm\xff\xf0a\xff\xf1b\xff\xf9\xff\xffc\xffd\x00e\n"]);
        assert_eq!((out, pending), (b"ab\xff\xffc\xffd\x00e\n".to_vec(), Vec::new()));
        // What looks like a command but would swallow a line break is data (binary clients).
        assert_eq!(stripped(&[b"\xff\xfe\n\xff\xfa\x18\nx\n"]).0, b"\xff\xfe\n\xff\xfa\x18\nx\n");
        assert_eq!(stripped(&[b"\xff\xfe", b"\r\n"]).0, b"\xff\xfe\r\n");
        // IAC IAC is one escaped byte: what follows it is data, not a command.
        assert_eq!(stripped(&[b"\xff\xff\xfd\x01\n"]).0, b"\xff\xff\xfd\x01\n");
    }

    #[test]
    fn telnet_commands_cut_between_reads_wait_for_their_end() {
        assert_eq!(stripped(&[b"os\xff", b"\xfd", b"\x01\r", b"\x00"]), (b"os\r\n".to_vec(), Vec::new()));
        let (out, pending) = stripped(&[b"a\xff\xfa\x18"]);
        assert_eq!((out.as_slice(), pending.as_slice()), (&b"a"[..], &b"\xff\xfa\x18"[..]));
        assert_eq!(stripped(&[b"a\xff\xfa\x18", b"\x00vt100\xff", b"\xf0b\r\x00"]).0, b"ab\r\n");
        // A subnegotiation without its end in MAX_TELNET_PENDING bytes is data (so never kept
        // without bound), wherever the reads cut it.
        let mut runaway = b"\xff\xfa\x18".to_vec();
        runaway.extend(std::iter::repeat_n(b'x', 2 * MAX_TELNET_PENDING));
        let whole = [b"a".to_vec(), runaway.clone()].concat();
        assert_eq!(stripped(&[b"a", &runaway]), (whole.clone(), Vec::new()));
        for cut in [1, 100, MAX_TELNET_PENDING - 1, MAX_TELNET_PENDING, MAX_TELNET_PENDING + 1, 600] {
            let (head, tail) = runaway.split_at(cut);
            assert_eq!(stripped(&[b"a", head, tail]), (whole.clone(), Vec::new()), "cut at {cut}");
        }
        // Its end just inside the limit still ends it.
        let mut long = b"\xff\xfa".to_vec();
        long.extend(std::iter::repeat_n(b'x', MAX_TELNET_PENDING - 4));
        long.extend(b"\xff\xf0b");
        assert_eq!(stripped(&[&long[..300], &long[300..]]), (b"b".to_vec(), Vec::new()));
    }
}
