//! `sendmsg` / `recvmsg` with ancillary data, as Python's `socket.sendmsg` and
//! `socket.recvmsg[_into]`: scatter/gather buffers, control messages of any level and type,
//! the truncation flags, and CPython's checks and errors for bad ancillary data.
//!
//! On the wire a control message is a [`ControlMessage`] (level, type, raw data), which is what
//! Python shows. [`Ancillary`] gives the common kinds typed values (descriptors, credentials,
//! IPv6 packet info and hop limit) for Rust callers.

use std::io::IoSlice;
use std::mem::{self, MaybeUninit};
use std::net::Ipv6Addr;
use std::os::fd::RawFd;

use socket2::SockAddr;

use super::wait::{sock_call, Call, Interrupt};
use super::{addr, cvt_size, Address, SockName, Socket};
use crate::error::{Error, Result};

const READ: Call = Call { writing: false, wait_first: false };
const WRITE: Call = Call { writing: true, wait_first: false };

/// The largest control buffer length CPython accepts (its `SOCKLEN_T_LIMIT`).
pub const SOCKLEN_T_LIMIT: usize = 0x7fff_ffff;

/// One ancillary data item: `(cmsg_level, cmsg_type, cmsg_data)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControlMessage {
    pub level: i32,
    pub kind: i32,
    pub data: Vec<u8>,
}

/// An ancillary data item to send, borrowing its data (no copy before the kernel's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ControlMessageRef<'a> {
    pub level: i32,
    pub kind: i32,
    pub data: &'a [u8],
}

impl ControlMessage {
    pub fn as_ref(&self) -> ControlMessageRef<'_> {
        ControlMessageRef { level: self.level, kind: self.kind, data: &self.data }
    }
}

/// Typed values for the common kinds of ancillary data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ancillary {
    /// `SCM_RIGHTS`: descriptors. Received ones belong to the receiver, which must close them.
    Rights(Vec<RawFd>),
    /// `SCM_CREDENTIALS`: the sender's process, user and group ids.
    Credentials { pid: i32, uid: u32, gid: u32 },
    /// `IPV6_PKTINFO`: the packet's address and interface index.
    Ipv6PacketInfo { addr: Ipv6Addr, ifindex: u32 },
    /// `IPV6_HOPLIMIT`: the hop limit.
    Ipv6HopLimit(i32),
    /// Any other item, as raw data.
    Other(ControlMessage),
}

fn ints_to_bytes(values: &[i32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_ne_bytes()).collect()
}

impl From<&Ancillary> for ControlMessage {
    fn from(a: &Ancillary) -> ControlMessage {
        let msg = |level, kind, data| ControlMessage { level, kind, data };
        match a {
            Ancillary::Rights(fds) => msg(libc::SOL_SOCKET, libc::SCM_RIGHTS, ints_to_bytes(fds)),
            Ancillary::Credentials { pid, uid, gid } => {
                let mut data = pid.to_ne_bytes().to_vec();
                data.extend(uid.to_ne_bytes());
                data.extend(gid.to_ne_bytes());
                msg(libc::SOL_SOCKET, libc::SCM_CREDENTIALS, data)
            }
            Ancillary::Ipv6PacketInfo { addr, ifindex } => {
                let mut data = addr.octets().to_vec();
                data.extend(ifindex.to_ne_bytes());
                msg(libc::IPPROTO_IPV6, libc::IPV6_PKTINFO, data)
            }
            Ancillary::Ipv6HopLimit(n) => msg(libc::IPPROTO_IPV6, libc::IPV6_HOPLIMIT, n.to_ne_bytes().to_vec()),
            Ancillary::Other(m) => m.clone(),
        }
    }
}

fn ne_u32(b: &[u8]) -> u32 {
    u32::from_ne_bytes([b[0], b[1], b[2], b[3]])
}

impl From<&ControlMessage> for Ancillary {
    /// Decodes an item of a known kind; a truncated or unknown one stays [`Ancillary::Other`].
    fn from(m: &ControlMessage) -> Ancillary {
        let d = &m.data;
        match (m.level, m.kind) {
            (libc::SOL_SOCKET, libc::SCM_RIGHTS) => {
                Ancillary::Rights(d.chunks_exact(4).map(|c| ne_u32(c) as i32).collect())
            }
            (libc::SOL_SOCKET, libc::SCM_CREDENTIALS) if d.len() >= 12 => {
                Ancillary::Credentials { pid: ne_u32(&d[0..4]) as i32, uid: ne_u32(&d[4..8]), gid: ne_u32(&d[8..12]) }
            }
            (libc::IPPROTO_IPV6, libc::IPV6_PKTINFO) if d.len() >= 20 => {
                let octets: [u8; 16] = d[..16].try_into().expect("16 bytes");
                Ancillary::Ipv6PacketInfo { addr: Ipv6Addr::from(octets), ifindex: ne_u32(&d[16..20]) }
            }
            (libc::IPPROTO_IPV6, libc::IPV6_HOPLIMIT) if d.len() >= 4 => Ancillary::Ipv6HopLimit(ne_u32(d) as i32),
            _ => Ancillary::Other(m.clone()),
        }
    }
}

/// `socket.CMSG_LEN(length)`: a control message's length for `length` bytes of data, or
/// `None` when that is beyond CPython's limit (Python raises OverflowError).
pub fn cmsg_len(length: usize) -> Option<usize> {
    // SAFETY: CMSG_LEN only computes a length.
    let header = unsafe { libc::CMSG_LEN(0) } as usize;
    if length > SOCKLEN_T_LIMIT - header {
        return None;
    }
    // SAFETY: as above; the length fits in a c_uint after the check.
    Some(unsafe { libc::CMSG_LEN(length as libc::c_uint) } as usize)
}

/// `socket.CMSG_SPACE(length)`: the buffer space a control message with `length` bytes of
/// data takes, padding included, or `None` beyond CPython's limit.
pub fn cmsg_space(length: usize) -> Option<usize> {
    // SAFETY: CMSG_SPACE only computes a length. CMSG_SPACE(1) counts the padding before
    // and after the data, as CPython's check does.
    let one = unsafe { libc::CMSG_SPACE(1) } as usize;
    if length > SOCKLEN_T_LIMIT - one {
        return None;
    }
    // SAFETY: as above.
    Some(unsafe { libc::CMSG_SPACE(length as libc::c_uint) } as usize)
}

/// Lays out control messages in one buffer, each in `CMSG_SPACE` of its data, with
/// CPython's errors for items that are too large.
/// Returns the storage (u64 words, so every header is aligned for cmsghdr) and its length.
fn control_buffer(items: &[ControlMessageRef<'_>]) -> Result<(Vec<u64>, usize)> {
    let mut total: usize = 0;
    for item in items {
        let space = cmsg_space(item.data.len()).ok_or_else(|| Error::Failed("ancillary data item too large".into()))?;
        total = total
            .checked_add(space)
            .filter(|t| *t <= SOCKLEN_T_LIMIT)
            .ok_or_else(|| Error::Failed("too much ancillary data".into()))?;
    }
    let mut words = vec![0u64; total.div_ceil(8)];
    if total == 0 {
        return Ok((words, 0));
    }
    // SAFETY: msg describes the zeroed buffer; the CMSG macros walk it within `total`, which
    // has CMSG_SPACE room for every item, so each header and its data fit.
    unsafe {
        let mut msg: libc::msghdr = mem::zeroed();
        msg.msg_control = words.as_mut_ptr() as *mut libc::c_void;
        msg.msg_controllen = total as _;
        let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
        for item in items {
            if cmsg.is_null() {
                return Err(Error::Failed("unexpected NULL result from CMSG_NXTHDR".into()));
            }
            (*cmsg).cmsg_level = item.level;
            (*cmsg).cmsg_type = item.kind;
            (*cmsg).cmsg_len = libc::CMSG_LEN(item.data.len() as libc::c_uint) as _;
            std::ptr::copy_nonoverlapping(item.data.as_ptr(), libc::CMSG_DATA(cmsg), item.data.len());
            cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
        }
    }
    Ok((words, total))
}

/// What `recvmsg` received besides the data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// Bytes of data received.
    pub len: usize,
    /// The control messages, in order.
    pub ancillary: Vec<ControlMessage>,
    /// `msg_flags` (MSG_TRUNC, MSG_CTRUNC, MSG_EOR, ...).
    pub flags: i32,
    /// The sender's address (`SockName::None` when the kernel gave none).
    pub address: SockName,
    /// An item was cut short or malformed (Python warns "received malformed or
    /// improperly-truncated ancillary data").
    pub truncated_item: bool,
}

/// Reads the control messages of a received `msg`, as CPython's `sock_recvmsg_guts`: an item
/// whose data was cut by the buffer's end is kept with the data that arrived, and ends the list.
///
/// # Safety
/// `msg.msg_control`/`msg_controllen` must describe the buffer the kernel filled.
unsafe fn read_control(msg: &libc::msghdr) -> (Vec<ControlMessage>, bool) {
    let mut items = Vec::new();
    #[allow(clippy::unnecessary_cast)] // socklen_t on some libcs
    let controllen = msg.msg_controllen as usize;
    if controllen == 0 || msg.msg_control.is_null() {
        return (items, false);
    }
    let base = msg.msg_control as *const u8;
    let header = libc::CMSG_LEN(0) as usize;
    let len_end = mem::offset_of!(libc::cmsghdr, cmsg_len) + mem::size_of::<libc::size_t>();
    let mut cmsg = libc::CMSG_FIRSTHDR(msg);
    while !cmsg.is_null() {
        let offset = cmsg as *const u8 as usize - base as usize;
        // The header itself must be there (CPython's cmsg_min_space).
        if offset + header.max(len_end) > controllen || ((*cmsg).cmsg_len as usize) < header {
            return (items, true);
        }
        let data = libc::CMSG_DATA(cmsg);
        let data_offset = data as usize - base as usize;
        if data_offset > controllen {
            return (items, true);
        }
        let want = (*cmsg).cmsg_len as usize - header;
        let space = controllen - data_offset;
        let n = want.min(space);
        items.push(ControlMessage {
            level: (*cmsg).cmsg_level,
            kind: (*cmsg).cmsg_type,
            data: std::slice::from_raw_parts(data, n).to_vec(),
        });
        if n < want {
            return (items, true);
        }
        cmsg = libc::CMSG_NXTHDR(msg, cmsg);
    }
    (items, false)
}

/// Closes the descriptors an `SCM_RIGHTS` item brought, for a receive that fails after the
/// kernel handed them over (as CPython does).
pub fn close_received_fds(items: &[ControlMessage]) {
    for item in items {
        if item.level == libc::SOL_SOCKET && item.kind == libc::SCM_RIGHTS {
            for chunk in item.data.chunks_exact(4) {
                // SAFETY: the kernel installed these descriptors for us; nobody else has them.
                unsafe { libc::close(ne_u32(chunk) as i32) };
            }
        }
    }
}

impl Socket {
    /// `sendmsg(buffers, ancdata, flags, address)`: gathers `buffers` into one message with
    /// the control messages; returns the bytes sent. Uses MSG_NOSIGNAL, as `send`.
    pub fn sendmsg(
        &self,
        buffers: &[IoSlice<'_>],
        ancillary: &[ControlMessageRef<'_>],
        flags: i32,
        address: Option<&Address>,
    ) -> Result<usize> {
        self.sendmsg_with(buffers, ancillary, flags, address, &mut Interrupt::none())
    }

    pub fn sendmsg_with(
        &self,
        buffers: &[IoSlice<'_>],
        ancillary: &[ControlMessageRef<'_>],
        flags: i32,
        address: Option<&Address>,
        intr: &mut Interrupt<'_>,
    ) -> Result<usize> {
        let sa: Option<SockAddr> = match address {
            Some(a) => Some(addr::resolve(self.family, a, "sendmsg")?),
            None => None,
        };
        let (mut control, control_len) = control_buffer(ancillary)?;
        let mode = self.mode();
        sock_call(&self.fd, mode, WRITE, intr, |fd| {
            // SAFETY: the msghdr points at live buffers for the duration of the call; IoSlice
            // is ABI-compatible with iovec.
            let mut msg: libc::msghdr = unsafe { mem::zeroed() };
            if let Some(sa) = &sa {
                msg.msg_name = sa.as_ptr() as *mut libc::c_void;
                msg.msg_namelen = sa.len();
            }
            msg.msg_iov = buffers.as_ptr() as *mut libc::iovec;
            msg.msg_iovlen = buffers.len() as _;
            if control_len > 0 {
                msg.msg_control = control.as_mut_ptr() as *mut libc::c_void;
                msg.msg_controllen = control_len as _;
            }
            // SAFETY: msg is fully set up above.
            cvt_size(unsafe { libc::sendmsg(fd, &msg, flags | libc::MSG_NOSIGNAL) })
        })
    }

    /// `recvmsg(bufsize, ancbufsize, flags)` / `recvmsg_into(buffers, ...)`: scatters the data
    /// over `buffers` (memory that need not be initialised; the first `len` bytes are
    /// afterwards), with room for `ancbufsize` bytes of control messages.
    pub fn recvmsg_uninit_with(
        &self,
        buffers: &mut [&mut [MaybeUninit<u8>]],
        ancbufsize: usize,
        flags: i32,
        intr: &mut Interrupt<'_>,
    ) -> Result<Received> {
        if ancbufsize > SOCKLEN_T_LIMIT {
            return Err(Error::InvalidArgument("invalid ancillary data buffer length".into()));
        }
        let mut iov: Vec<libc::iovec> = buffers
            .iter_mut()
            .map(|b| libc::iovec { iov_base: b.as_mut_ptr() as *mut libc::c_void, iov_len: b.len() })
            .collect();
        // u64 storage keeps the headers aligned.
        let mut control = vec![0u64; ancbufsize.div_ceil(8)];
        let (msg, from) = sock_call(&self.fd, self.mode(), READ, intr, |fd| {
            // SAFETY: try_init hands us zeroed sockaddr storage; msg points at iov, control
            // and that storage, all alive for the call.
            unsafe {
                SockAddr::try_init(|storage, salen| {
                    let mut msg: libc::msghdr = mem::zeroed();
                    msg.msg_name = storage as *mut libc::c_void;
                    msg.msg_namelen = *salen;
                    msg.msg_iov = iov.as_mut_ptr();
                    msg.msg_iovlen = iov.len() as _;
                    if ancbufsize > 0 {
                        msg.msg_control = control.as_mut_ptr() as *mut libc::c_void;
                        msg.msg_controllen = ancbufsize as _;
                    }
                    let n = cvt_size(libc::recvmsg(fd, &mut msg, flags))?;
                    *salen = msg.msg_namelen;
                    Ok((n, msg))
                })
            }
        })?;
        let (len, msg) = msg;
        // SAFETY: msg's control fields describe `control`, filled by the kernel.
        let (ancillary, truncated_item) = unsafe { read_control(&msg) };
        Ok(Received { len, ancillary, flags: msg.msg_flags, address: addr::sockname(&from), truncated_item })
    }

    /// `recvmsg_into` into initialised buffers.
    pub fn recvmsg_with(
        &self,
        buffers: &mut [&mut [u8]],
        ancbufsize: usize,
        flags: i32,
        intr: &mut Interrupt<'_>,
    ) -> Result<Received> {
        let mut uninit: Vec<&mut [MaybeUninit<u8>]> = buffers
            .iter_mut()
            // SAFETY: the kernel only writes initialised bytes into the buffers.
            .map(|b| unsafe { &mut *(&mut **b as *mut [u8] as *mut [MaybeUninit<u8>]) })
            .collect();
        self.recvmsg_uninit_with(&mut uninit, ancbufsize, flags, intr)
    }

    /// `recvmsg(bufsize, ancbufsize, flags)` into one buffer.
    pub fn recvmsg(&self, buf: &mut [u8], ancbufsize: usize, flags: i32) -> Result<Received> {
        self.recvmsg_with(&mut [buf], ancbufsize, flags, &mut Interrupt::none())
    }

    /// `socket.send_fds(sock, buffers, fds, flags, address)`: the data with one `SCM_RIGHTS`
    /// item carrying `fds`.
    pub fn send_fds_with(
        &self,
        buffers: &[IoSlice<'_>],
        fds: &[RawFd],
        flags: i32,
        address: Option<&Address>,
        intr: &mut Interrupt<'_>,
    ) -> Result<usize> {
        let data = ints_to_bytes(fds);
        let item = ControlMessageRef { level: libc::SOL_SOCKET, kind: libc::SCM_RIGHTS, data: &data };
        self.sendmsg_with(buffers, &[item], flags, address, intr)
    }

    pub fn send_fds(&self, data: &[u8], fds: &[RawFd]) -> Result<usize> {
        self.send_fds_with(&[IoSlice::new(data)], fds, 0, None, &mut Interrupt::none())
    }

    /// `socket.recv_fds(sock, bufsize, maxfds, flags)`: data and up to `maxfds` descriptors
    /// (the caller owns them), with the message flags and sender address.
    pub fn recv_fds_uninit_with(
        &self,
        buf: &mut [MaybeUninit<u8>],
        maxfds: usize,
        flags: i32,
        intr: &mut Interrupt<'_>,
    ) -> Result<(usize, Vec<RawFd>, i32, SockName)> {
        // CMSG_LEN, as the stdlib's recv_fds: room for exactly `maxfds`, more are cut off.
        let room = maxfds.checked_mul(mem::size_of::<libc::c_int>()).and_then(cmsg_len);
        let room = room.ok_or_else(|| Error::Overflow("CMSG_LEN() argument out of range".into()))?;
        let got = self.recvmsg_uninit_with(&mut [buf], room, flags, intr)?;
        let mut fds = Vec::new();
        for item in &got.ancillary {
            if let Ancillary::Rights(more) = Ancillary::from(item) {
                fds.extend(more);
            }
        }
        Ok((got.len, fds, got.flags, got.address))
    }

    pub fn recv_fds(&self, buf: &mut [u8], maxfds: usize) -> Result<(usize, Vec<RawFd>)> {
        // SAFETY: the kernel only writes initialised bytes into the buffer.
        let buf = unsafe { &mut *(buf as *mut [u8] as *mut [MaybeUninit<u8>]) };
        let (n, fds, _, _) = self.recv_fds_uninit_with(buf, maxfds, 0, &mut Interrupt::none())?;
        Ok((n, fds))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cmsg_macros_match_cpython_limits() {
        let header = cmsg_len(0).unwrap();
        assert_eq!(cmsg_len(5).unwrap() - header, 5);
        assert!(cmsg_len(SOCKLEN_T_LIMIT - header).is_some());
        assert!(cmsg_len(SOCKLEN_T_LIMIT - header + 1).is_none());
        assert!(cmsg_space(4).unwrap() >= cmsg_len(4).unwrap());
        assert!(cmsg_space(usize::MAX).is_none());
    }

    #[test]
    fn typed_items_round_trip_through_raw_ones() {
        for a in [
            Ancillary::Rights(vec![3, 4]),
            Ancillary::Credentials { pid: 1, uid: 2, gid: 3 },
            Ancillary::Ipv6PacketInfo { addr: Ipv6Addr::LOCALHOST, ifindex: 1 },
            Ancillary::Ipv6HopLimit(64),
        ] {
            assert_eq!(Ancillary::from(&ControlMessage::from(&a)), a);
        }
    }

    #[test]
    fn fds_pass_over_a_unix_socket_pair() {
        let (a, b) = Socket::pair(libc::AF_UNIX, libc::SOCK_STREAM, 0).unwrap();
        let (x, y) = Socket::pair(libc::AF_UNIX, libc::SOCK_STREAM, 0).unwrap();
        assert_eq!(a.send_fds(b"fd", &[x.fileno()]).unwrap(), 2);
        let mut buf = [0u8; 8];
        let (n, fds) = b.recv_fds(&mut buf, 4).unwrap();
        assert_eq!((&buf[..n], fds.len()), (&b"fd"[..], 1));
        // The received descriptor is the same socket: what goes in at y comes out of it.
        let got = Socket::from_fd(fds[0], None, None, None).unwrap();
        y.sendall(b"hi", 0).unwrap();
        let mut buf = [0u8; 2];
        got.recv(&mut buf, 0).unwrap();
        assert_eq!(&buf, b"hi");
    }

    #[test]
    fn a_short_control_buffer_sets_ctrunc_and_closes_nothing_it_keeps() {
        let (a, b) = Socket::pair(libc::AF_UNIX, libc::SOCK_STREAM, 0).unwrap();
        let (x, _y) = Socket::pair(libc::AF_UNIX, libc::SOCK_STREAM, 0).unwrap();
        a.send_fds(b"z", &[x.fileno(), x.fileno()]).unwrap();
        let mut buf = [0u8; 1];
        let got = b.recvmsg(&mut buf, cmsg_len(4).unwrap(), 0).unwrap();
        assert!(got.flags & libc::MSG_CTRUNC != 0);
        assert_eq!(got.ancillary.len(), 1);
        assert_eq!(got.ancillary[0].data.len(), 4);
        close_received_fds(&got.ancillary);
    }
}
