//! The integer constants of Python's `socket` module (`AF_*`, `SO_*`, `MSG_*`, `TIPC_*`, ...)
//! with the values of the build target: build.rs compiles a C program from
//! `constants.list` against the platform's headers, as CPython's socketmodule.c does.

/// `(name, value)` for every constant the platform defines, sorted by name.
pub static CONSTANTS: &[(&str, i64)] = &include!(concat!(env!("OUT_DIR"), "/socket_constants.rs"));

/// The value of a constant by its Python name.
pub fn lookup(name: &str) -> Option<i64> {
    CONSTANTS.binary_search_by(|(n, _)| n.cmp(&name)).ok().map(|i| CONSTANTS[i].1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_the_platforms() {
        assert_eq!(lookup("AF_INET"), Some(libc::AF_INET.into()));
        assert_eq!(lookup("SCM_RIGHTS"), Some(libc::SCM_RIGHTS.into()));
        assert_eq!(lookup("MSG_CMSG_CLOEXEC"), Some(libc::MSG_CMSG_CLOEXEC.into()));
        assert_eq!(lookup("INADDR_NONE"), Some(0xffff_ffff));
        // An enum member, not a macro, in the headers.
        assert_eq!(lookup("CAN_BCM_TX_SETUP"), Some(1));
        assert_eq!(lookup("NO_SUCH_CONSTANT"), None);
        assert!(CONSTANTS.windows(2).all(|w| w[0].0 < w[1].0), "sorted for lookup");
    }
}
