//! The module's integer constants, from the platform (the libc crate) so they are right for
//! the build target.

use pyo3::prelude::*;

/// Adds the constants to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("has_ipv6", true)?;
    let constants: &[(&str, i32)] = &[
        ("SOCK_NONBLOCK", libc::SOCK_NONBLOCK),
        ("SOCK_CLOEXEC", libc::SOCK_CLOEXEC),
        ("SOL_SOCKET", libc::SOL_SOCKET),
        ("SOMAXCONN", libc::SOMAXCONN),
        ("SO_REUSEADDR", libc::SO_REUSEADDR),
        ("SO_REUSEPORT", libc::SO_REUSEPORT),
        ("SO_KEEPALIVE", libc::SO_KEEPALIVE),
        ("SO_BROADCAST", libc::SO_BROADCAST),
        ("SO_LINGER", libc::SO_LINGER),
        ("SO_RCVBUF", libc::SO_RCVBUF),
        ("SO_SNDBUF", libc::SO_SNDBUF),
        ("SO_RCVLOWAT", libc::SO_RCVLOWAT),
        ("SO_SNDLOWAT", libc::SO_SNDLOWAT),
        ("SO_RCVTIMEO", libc::SO_RCVTIMEO),
        ("SO_SNDTIMEO", libc::SO_SNDTIMEO),
        ("SO_ERROR", libc::SO_ERROR),
        ("SO_TYPE", libc::SO_TYPE),
        ("SO_ACCEPTCONN", libc::SO_ACCEPTCONN),
        ("SO_DOMAIN", libc::SO_DOMAIN),
        ("SO_PROTOCOL", libc::SO_PROTOCOL),
        ("SO_OOBINLINE", libc::SO_OOBINLINE),
        ("SO_PEERCRED", libc::SO_PEERCRED),
        ("IPPROTO_IP", libc::IPPROTO_IP),
        ("IPPROTO_IPV6", libc::IPPROTO_IPV6),
        ("IPPROTO_ICMP", libc::IPPROTO_ICMP),
        ("IPPROTO_ICMPV6", libc::IPPROTO_ICMPV6),
        ("IPPROTO_RAW", libc::IPPROTO_RAW),
        ("IP_TTL", libc::IP_TTL),
        ("IP_TOS", libc::IP_TOS),
        ("IP_HDRINCL", libc::IP_HDRINCL),
        ("IP_MULTICAST_TTL", libc::IP_MULTICAST_TTL),
        ("IP_MULTICAST_LOOP", libc::IP_MULTICAST_LOOP),
        ("IP_ADD_MEMBERSHIP", libc::IP_ADD_MEMBERSHIP),
        ("IP_DROP_MEMBERSHIP", libc::IP_DROP_MEMBERSHIP),
        ("IPV6_V6ONLY", libc::IPV6_V6ONLY),
        ("IPV6_UNICAST_HOPS", libc::IPV6_UNICAST_HOPS),
        ("TCP_NODELAY", libc::TCP_NODELAY),
        ("TCP_MAXSEG", libc::TCP_MAXSEG),
        ("TCP_KEEPIDLE", libc::TCP_KEEPIDLE),
        ("TCP_KEEPINTVL", libc::TCP_KEEPINTVL),
        ("TCP_KEEPCNT", libc::TCP_KEEPCNT),
        ("TCP_QUICKACK", libc::TCP_QUICKACK),
        ("TCP_FASTOPEN", libc::TCP_FASTOPEN),
        ("TCP_USER_TIMEOUT", libc::TCP_USER_TIMEOUT),
        ("SHUT_RD", libc::SHUT_RD),
        ("SHUT_WR", libc::SHUT_WR),
        ("SHUT_RDWR", libc::SHUT_RDWR),
        ("MSG_PEEK", libc::MSG_PEEK),
        ("MSG_OOB", libc::MSG_OOB),
        ("MSG_WAITALL", libc::MSG_WAITALL),
        ("MSG_DONTWAIT", libc::MSG_DONTWAIT),
        ("MSG_DONTROUTE", libc::MSG_DONTROUTE),
        ("MSG_NOSIGNAL", libc::MSG_NOSIGNAL),
        ("MSG_TRUNC", libc::MSG_TRUNC),
        ("MSG_CTRUNC", libc::MSG_CTRUNC),
        ("MSG_EOR", libc::MSG_EOR),
        ("MSG_MORE", libc::MSG_MORE),
        ("MSG_CMSG_CLOEXEC", libc::MSG_CMSG_CLOEXEC),
    ];
    for (name, value) in constants {
        m.add(*name, *value)?;
    }
    m.add("INADDR_ANY", libc::INADDR_ANY)?;
    m.add("INADDR_LOOPBACK", libc::INADDR_LOOPBACK)?;
    m.add("INADDR_BROADCAST", libc::INADDR_BROADCAST)?;
    Ok(())
}
