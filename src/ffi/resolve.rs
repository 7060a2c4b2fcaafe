//! C face of `crate::resolve`: service and host look-ups.

use std::ffi::CString;
use std::os::raw::c_char;
use std::time::Duration;

use super::boundary::{arg_opt_str, arg_out, arg_ref, arg_str, FfiError};
use super::status::netcore_status;
use super::strings::{into_c_string, netcore_string_list};
use crate::resolve;

/// Port number of service `name` for protocol `proto` ("tcp", "udp"; NULL matches any).
/// Unknown service: NETCORE_STATUS_SERVICE_NOT_FOUND.
#[no_mangle]
pub extern "C" fn netcore_getservbyname(
    name: *const c_char,
    proto: *const c_char,
    out_port: *mut u16,
) -> netcore_status {
    ffi_boundary!({
        // SAFETY: pointer arguments are checked by the arg_* helpers.
        let (name, proto) = unsafe { (arg_str(name, "name")?, arg_opt_str(proto, "proto")?) };
        let out_port = arg_out(out_port, "out_port")?;
        *out_port = resolve::getservbyname(name, proto)?;
        Ok(())
    })
}

/// Name of the service on `port` for `proto` (NULL matches any); free it with
/// `netcore_string_free`. A port outside 0..65535 gives NETCORE_STATUS_OVERFLOW.
#[no_mangle]
pub extern "C" fn netcore_getservbyport(port: i32, proto: *const c_char, out_name: *mut *mut c_char) -> netcore_status {
    ffi_boundary!({
        // SAFETY: checked by arg_opt_str.
        let proto = unsafe { arg_opt_str(proto, "proto")? };
        let out_name = arg_out(out_name, "out_name")?;
        *out_name = into_c_string(resolve::getservbyport(port.into(), proto)?);
        Ok(())
    })
}

/// The first IPv4 address of `host`, dotted-quad; free it with `netcore_string_free`.
#[no_mangle]
pub extern "C" fn netcore_gethostbyname(host: *const c_char, out_address: *mut *mut c_char) -> netcore_status {
    ffi_boundary!({
        // SAFETY: arg_str refuses NULL; the caller promises a NUL-terminated string (netcore.h).
        let host = unsafe { arg_str(host, "host")? };
        let out_address = arg_out(out_address, "out_address")?;
        *out_address = into_c_string(resolve::gethostbyname(host)?.to_string());
        Ok(())
    })
}

fn write_host_entry(
    entry: resolve::HostEntry,
    out_name: *mut *mut c_char,
    out_aliases: *mut *mut netcore_string_list,
    out_addresses: *mut *mut netcore_string_list,
) -> Result<(), FfiError> {
    let out_name = arg_out(out_name, "out_name")?;
    let out_aliases = arg_out(out_aliases, "out_aliases")?;
    let out_addresses = arg_out(out_addresses, "out_addresses")?;
    *out_name = into_c_string(entry.name);
    *out_aliases = Box::into_raw(netcore_string_list::new(entry.aliases));
    *out_addresses = Box::into_raw(netcore_string_list::new(entry.addresses.iter().map(|a| a.to_string())));
    Ok(())
}

fn check_outs<A, B, C>(a: *mut A, b: *mut B, c: *mut C) -> Result<(), FfiError> {
    arg_out(a, "out_name")?;
    arg_out(b, "out_aliases")?;
    arg_out(c, "out_addresses")?;
    Ok(())
}

/// Python's gethostbyname_ex: canonical name, aliases and IPv4 addresses of `host`.
/// Free the name with `netcore_string_free` and the lists with `netcore_string_list_free`.
#[no_mangle]
pub extern "C" fn netcore_gethostbyname_ex(
    host: *const c_char,
    out_name: *mut *mut c_char,
    out_aliases: *mut *mut netcore_string_list,
    out_addresses: *mut *mut netcore_string_list,
) -> netcore_status {
    ffi_boundary!({
        // SAFETY: arg_str refuses NULL; the caller promises a NUL-terminated string (netcore.h).
        let host = unsafe { arg_str(host, "host")? };
        check_outs(out_name, out_aliases, out_addresses)?;
        write_host_entry(resolve::gethostbyname_ex(host)?, out_name, out_aliases, out_addresses)
    })
}

/// Python's gethostbyaddr: the host entry for an address (or a name, resolved first).
/// Same ownership as `netcore_gethostbyname_ex`.
#[no_mangle]
pub extern "C" fn netcore_gethostbyaddr(
    address: *const c_char,
    out_name: *mut *mut c_char,
    out_aliases: *mut *mut netcore_string_list,
    out_addresses: *mut *mut netcore_string_list,
) -> netcore_status {
    ffi_boundary!({
        // SAFETY: arg_str refuses NULL; the caller promises a NUL-terminated string (netcore.h).
        let address = unsafe { arg_str(address, "address")? };
        check_outs(out_name, out_aliases, out_addresses)?;
        write_host_entry(resolve::gethostbyaddr(address)?, out_name, out_aliases, out_addresses)
    })
}

/// This machine's host name; free it with `netcore_string_free`.
#[no_mangle]
pub extern "C" fn netcore_gethostname(out_name: *mut *mut c_char) -> netcore_status {
    ffi_boundary!({
        let out_name = arg_out(out_name, "out_name")?;
        *out_name = into_c_string(resolve::gethostname()?);
        Ok(())
    })
}

/// Python's getfqdn: a fully qualified name for `name` (NULL or "" means this host). The
/// reverse look-up is abandoned after `timeout_ms` (0: 2000 ms). Free with `netcore_string_free`.
#[no_mangle]
pub extern "C" fn netcore_getfqdn(name: *const c_char, timeout_ms: u32, out_name: *mut *mut c_char) -> netcore_status {
    ffi_boundary!({
        // SAFETY: checked by arg_opt_str.
        let name = unsafe { arg_opt_str(name, "name")? }.unwrap_or("");
        let out_name = arg_out(out_name, "out_name")?;
        let timeout = match timeout_ms {
            0 => resolve::DEFAULT_FQDN_TIMEOUT,
            ms => Duration::from_millis(ms.into()),
        };
        *out_name = into_c_string(resolve::getfqdn(name, timeout)?);
        Ok(())
    })
}

/// One result of `netcore_getaddrinfo`. The strings belong to the list it came from.
#[repr(C)]
pub struct netcore_addrinfo {
    /// AF_INET or AF_INET6.
    pub family: i32,
    /// SOCK_STREAM, SOCK_DGRAM, ...
    pub socktype: i32,
    /// IPPROTO_TCP, IPPROTO_UDP, ...
    pub protocol: i32,
    /// The port, in host byte order.
    pub port: u16,
    /// IPv6 flow label (0 for IPv4).
    pub flowinfo: u32,
    /// IPv6 scope id (0 for IPv4).
    pub scope_id: u32,
    /// The address as text ("127.0.0.1", "::1").
    pub address: *const c_char,
    /// The canonical name, "" unless AI_CANONNAME was asked for (first result only).
    pub canonname: *const c_char,
}

struct AddrInfoItem {
    info: resolve::AddrInfo,
    address: CString,
    canonname: CString,
}

/// The results of one `netcore_getaddrinfo` call.
pub struct netcore_addrinfo_list {
    items: Vec<AddrInfoItem>,
}

/// getaddrinfo(3) with Python's argument rules: `host` and `service` may be NULL (not both);
/// `service` is a port number or a service name. Free the list with `netcore_addrinfo_list_free`.
#[no_mangle]
pub extern "C" fn netcore_getaddrinfo(
    host: *const c_char,
    service: *const c_char,
    family: i32,
    socktype: i32,
    protocol: i32,
    flags: i32,
    out_list: *mut *mut netcore_addrinfo_list,
) -> netcore_status {
    ffi_boundary!({
        // SAFETY: checked by arg_opt_str.
        let (host, service) = unsafe { (arg_opt_str(host, "host")?, arg_opt_str(service, "service")?) };
        let out_list = arg_out(out_list, "out_list")?;
        let found = resolve::getaddrinfo(host, service, family, socktype, protocol, flags)?;
        let items = found
            .into_iter()
            .map(|info| AddrInfoItem {
                address: CString::new(info.addr.ip().to_string()).expect("no NUL in an address"),
                canonname: CString::new(info.canonname.replace('\0', "")).expect("NUL removed"),
                info,
            })
            .collect();
        *out_list = Box::into_raw(Box::new(netcore_addrinfo_list { items }));
        Ok(())
    })
}

/// The number of results in `list` (0 for NULL).
#[no_mangle]
pub extern "C" fn netcore_addrinfo_list_len(list: *const netcore_addrinfo_list) -> usize {
    ffi_boundary!(default = 0; { Ok(arg_ref(list, "list")?.items.len()) })
}

/// Fills `*out_info` with result `index`; its strings live as long as `list`.
#[no_mangle]
pub extern "C" fn netcore_addrinfo_list_get(
    list: *const netcore_addrinfo_list,
    index: usize,
    out_info: *mut netcore_addrinfo,
) -> netcore_status {
    ffi_boundary!({
        let list = arg_ref(list, "list")?;
        let out_info = arg_out(out_info, "out_info")?;
        let item = list.items.get(index).ok_or(FfiError::OutOfRange { index, len: list.items.len() })?;
        let (flowinfo, scope_id) = match item.info.addr {
            std::net::SocketAddr::V6(v6) => (v6.flowinfo(), v6.scope_id()),
            std::net::SocketAddr::V4(_) => (0, 0),
        };
        *out_info = netcore_addrinfo {
            family: item.info.family,
            socktype: item.info.socktype,
            protocol: item.info.protocol,
            port: item.info.addr.port(),
            flowinfo,
            scope_id,
            address: item.address.as_ptr(),
            canonname: item.canonname.as_ptr(),
        };
        Ok(())
    })
}

/// Frees a list from `netcore_getaddrinfo`. NULL is ignored.
#[no_mangle]
pub extern "C" fn netcore_addrinfo_list_free(list: *mut netcore_addrinfo_list) {
    ffi_boundary!(default = (); {
        // SAFETY: non-NULL lists passed here came from `netcore_getaddrinfo`.
        unsafe { super::boundary::free_boxed(list) };
        Ok(())
    })
}

/// getnameinfo(3) with Python's rules: `host` must be a numeric address; `flowinfo` and
/// `scope_id` apply to IPv6 only. Free both strings with `netcore_string_free`.
#[no_mangle]
pub extern "C" fn netcore_getnameinfo(
    host: *const c_char,
    port: i32,
    flowinfo: u32,
    scope_id: u32,
    flags: i32,
    out_host: *mut *mut c_char,
    out_service: *mut *mut c_char,
) -> netcore_status {
    ffi_boundary!({
        // SAFETY: arg_str refuses NULL; the caller promises a NUL-terminated string (netcore.h).
        let host = unsafe { arg_str(host, "host")? };
        arg_out(out_host, "out_host")?;
        arg_out(out_service, "out_service")?;
        let is_v6 = host.contains(':');
        let addr = resolve::NameInfoAddr {
            host: host.to_string(),
            port: port.into(),
            flowinfo: is_v6.then_some(flowinfo),
            scope_id: is_v6.then_some(scope_id),
        };
        let (name, service) = resolve::getnameinfo(&addr, flags)?;
        *arg_out(out_host, "out_host")? = into_c_string(name);
        *arg_out(out_service, "out_service")? = into_c_string(service);
        Ok(())
    })
}
