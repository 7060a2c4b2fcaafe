use std::thread;
use std::time::{Duration, Instant};

use super::*;

fn loopback(port: i64) -> Address {
    Address::Inet { host: "127.0.0.1".into(), port }
}

fn port_of(s: &Socket) -> i64 {
    match s.getsockname().unwrap() {
        SockName::Inet(_, p) => p.into(),
        other => panic!("not an inet name: {other:?}"),
    }
}

fn listener() -> Socket {
    let s = Socket::new(libc::AF_INET, libc::SOCK_STREAM, 0).unwrap();
    s.bind(&loopback(0)).unwrap();
    s.listen(None).unwrap();
    s
}

#[test]
fn tcp_echo_round_trip() {
    let server = listener();
    let port = port_of(&server);
    let t = thread::spawn(move || {
        let (conn, peer) = server.accept().unwrap();
        assert!(matches!(peer, SockName::Inet(ip, _) if ip.is_loopback()));
        let mut buf = [0u8; 64];
        let n = conn.recv(&mut buf, 0).unwrap();
        conn.sendall(&buf[..n], 0).unwrap();
    });
    let c = Socket::new(libc::AF_INET, libc::SOCK_STREAM, 0).unwrap();
    c.connect(&loopback(port)).unwrap();
    c.sendall(b"ping", 0).unwrap();
    let mut buf = [0u8; 64];
    let n = c.recv(&mut buf, 0).unwrap();
    assert_eq!(&buf[..n], b"ping");
    t.join().unwrap();
    assert_eq!(c.recv(&mut buf, 0).unwrap(), 0, "end of stream after the peer closed");
}

#[test]
fn timeout_modes() {
    let (a, _b) = Socket::pair(libc::AF_UNIX, libc::SOCK_STREAM, 0).unwrap();
    let mut buf = [0u8; 4];
    a.setblocking(false).unwrap();
    match a.recv(&mut buf, 0) {
        Err(Error::Os(e)) => assert_eq!(e.raw_os_error(), Some(libc::EAGAIN)),
        other => panic!("expected EAGAIN, got {other:?}"),
    }
    a.settimeout(Some(Duration::from_millis(100))).unwrap();
    let start = Instant::now();
    assert!(matches!(a.recv(&mut buf, 0), Err(Error::Timeout)));
    assert!(start.elapsed() >= Duration::from_millis(100));
    assert!(a.getblocking());
    assert_eq!(parse_timeout(Some(-1.0)).unwrap_err().to_string(), "Timeout value out of range");
    assert!(parse_timeout(Some(f64::NAN)).is_err());
}

#[test]
fn closed_socket_gives_ebadf() {
    let s = Socket::new(libc::AF_INET, libc::SOCK_STREAM, 0).unwrap();
    s.close().unwrap();
    s.close().unwrap();
    assert_eq!(s.fileno(), -1);
    let mut buf = [0u8; 1];
    for err in [s.recv(&mut buf, 0).unwrap_err(), s.getsockname().unwrap_err(), s.listen(None).unwrap_err()] {
        assert_eq!(err.code(), libc::EBADF, "{err}");
    }
}

#[test]
fn refused_connect_and_connect_ex() {
    let s = listener();
    let port = port_of(&s);
    drop(s);
    let c = Socket::new(libc::AF_INET, libc::SOCK_STREAM, 0).unwrap();
    assert_eq!(c.connect_ex(&loopback(port)).unwrap(), libc::ECONNREFUSED);
    let c = Socket::new(libc::AF_INET, libc::SOCK_STREAM, 0).unwrap();
    c.settimeout(Some(Duration::from_secs(5))).unwrap();
    assert_eq!(c.connect(&loopback(port)).unwrap_err().code(), libc::ECONNREFUSED);
}

#[test]
fn send_to_reset_peer_is_an_error_not_sigpipe() {
    let (a, b) = Socket::pair(libc::AF_UNIX, libc::SOCK_STREAM, 0).unwrap();
    drop(b);
    let err = a.send(b"x", 0).unwrap_err();
    assert_eq!(err.code(), libc::EPIPE);
}

#[test]
fn sendall_keeps_one_deadline() {
    let (a, _b) = Socket::pair(libc::AF_UNIX, libc::SOCK_STREAM, 0).unwrap();
    a.settimeout(Some(Duration::from_millis(200))).unwrap();
    let big = vec![0u8; 8 << 20];
    let start = Instant::now();
    assert!(matches!(a.sendall(&big, 0), Err(Error::Timeout)));
    let took = start.elapsed();
    assert!(took >= Duration::from_millis(200) && took < Duration::from_secs(10), "{took:?}");
}

#[test]
fn udp_sendto_recvfrom() {
    let a = Socket::new(libc::AF_INET, libc::SOCK_DGRAM, 0).unwrap();
    a.bind(&loopback(0)).unwrap();
    let b = Socket::new(libc::AF_INET, libc::SOCK_DGRAM, 0).unwrap();
    assert_eq!(b.sendto(b"hi", 0, &loopback(port_of(&a))).unwrap(), 2);
    let mut buf = [0u8; 16];
    let (n, from) = a.recvfrom(&mut buf, 0).unwrap();
    assert_eq!(&buf[..n], b"hi");
    assert!(matches!(from, SockName::Inet(ip, _) if ip.is_loopback()));
}

#[test]
fn unix_abstract_names_and_options() {
    let name = format!("\0netcore-test-{}", std::process::id());
    let s = Socket::new(libc::AF_UNIX, libc::SOCK_SEQPACKET, 0).unwrap();
    s.bind(&Address::Unix(name.clone().into_bytes())).unwrap();
    assert_eq!(s.getsockname().unwrap(), SockName::UnixAbstract(name.into_bytes()));
    s.setsockopt(libc::SOL_SOCKET, libc::SO_RCVBUF, OptValue::Int(65536)).unwrap();
    assert!(s.getsockopt_int(libc::SOL_SOCKET, libc::SO_RCVBUF).unwrap() >= 65536);
    assert_eq!(s.getsockopt_int(libc::SOL_SOCKET, libc::SO_TYPE).unwrap(), libc::SOCK_SEQPACKET);
    assert_eq!(s.getsockopt_bytes(libc::SOL_SOCKET, libc::SO_TYPE, 4).unwrap().len(), 4);
    assert!(s.getsockopt_bytes(libc::SOL_SOCKET, libc::SO_TYPE, 0).is_err());
    let d = s.dup().unwrap();
    assert_ne!(d.fileno(), s.fileno());
    assert_eq!(d.sock_type(), libc::SOCK_SEQPACKET);
}

extern "C" fn ignore_signal(_: libc::c_int) {}

/// Sends SIGUSR1 (with a handler installed without SA_RESTART, as Python installs its own) to
/// `thread` every 20 ms until `stop` is set, so its blocking system call ends with EINTR.
fn interrupt_repeatedly(
    thread: libc::pthread_t,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> thread::JoinHandle<()> {
    // SAFETY: a plain handler that does nothing; sigaction with a zeroed, then filled struct.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = ignore_signal as *const () as usize;
        libc::sigemptyset(&mut action.sa_mask);
        libc::sigaction(libc::SIGUSR1, &action, std::ptr::null_mut());
    }
    let thread = thread as usize;
    thread::spawn(move || {
        while !stop.load(Relaxed) {
            thread::sleep(Duration::from_millis(20));
            // SAFETY: the target thread is alive until it sets `stop`.
            unsafe { libc::pthread_kill(thread as libc::pthread_t, libc::SIGUSR1) };
        }
    })
}

#[test]
fn eintr_runs_the_hook_and_retries_until_it_fails() {
    let server = listener();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    // SAFETY: pthread_self always succeeds.
    let signaller = interrupt_repeatedly(unsafe { libc::pthread_self() }, stop.clone());
    let mut calls = 0;
    let mut check = || {
        calls += 1;
        if calls >= 3 {
            Err(Error::from_errno(libc::EINTR))
        } else {
            Ok(())
        }
    };
    // A blocking accept: retried after the first two signals, ended by the third check.
    let err = server.accept_with(&mut Interrupt::new(&mut check)).unwrap_err();
    stop.store(true, Relaxed);
    signaller.join().unwrap();
    assert_eq!(err.code(), libc::EINTR);
    assert_eq!(calls, 3);
}

#[test]
fn eintr_keeps_the_deadline() {
    let server = listener();
    server.settimeout(Some(Duration::from_millis(150))).unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    // SAFETY: pthread_self always succeeds.
    let signaller = interrupt_repeatedly(unsafe { libc::pthread_self() }, stop.clone());
    let mut calls = 0;
    let mut check = || {
        calls += 1;
        Ok(())
    };
    let start = Instant::now();
    let err = server.accept_with(&mut Interrupt::new(&mut check)).unwrap_err();
    stop.store(true, Relaxed);
    signaller.join().unwrap();
    assert!(matches!(err, Error::Timeout), "{err:?}");
    assert!(start.elapsed() >= Duration::from_millis(150));
    assert!(calls >= 2, "the hook ran after each signal: {calls}");
}

#[test]
fn create_connection_tries_addresses() {
    let server = listener();
    let port = port_of(&server).to_string();
    let c = create_connection(
        Some("127.0.0.1"),
        Some(&port),
        ConnectTimeout::Set(Some(Duration::from_secs(5))),
        None,
        &mut Interrupt::none(),
    )
    .unwrap();
    assert_eq!(c.gettimeout(), Some(Duration::from_secs(5)));
    drop(server);
    let errs = create_connection(Some("127.0.0.1"), Some(&port), ConnectTimeout::Default, None, &mut Interrupt::none())
        .unwrap_err();
    assert_eq!(errs.last().unwrap().code(), libc::ECONNREFUSED);
}

/// A hook that lets two checks pass and interrupts the third.
fn interrupted_on_third_call(calls: &mut usize) -> impl FnMut() -> Result<()> + Send + '_ {
    move || {
        *calls += 1;
        if *calls == 3 {
            Err(Error::Interrupted)
        } else {
            Ok(())
        }
    }
}

#[test]
fn wait_fd_runs_a_sliced_hook_between_slices_and_an_unsliced_one_only_after_signals() {
    let (a, b) = Socket::pair(libc::AF_UNIX, libc::SOCK_STREAM, 0).unwrap();
    let mut calls = 0;
    let mut check = interrupted_on_third_call(&mut calls);
    // The clients' wait: no deadline, the hook every slice; its error ends the wait.
    let slice = Duration::from_millis(5);
    let err = wait::wait_fd(a.fileno(), libc::POLLIN, None, &mut Interrupt::new(&mut check).sliced(slice)).unwrap_err();
    assert!(matches!(err, Error::Interrupted), "{err:?}");
    drop(check);
    assert_eq!(calls, 3);
    // The sockets' wait: no signal, so the hook never runs and the deadline ends it.
    let mut refuse = || Err(Error::Interrupted);
    let deadline = Some(Instant::now() + Duration::from_millis(30));
    let err = wait::wait_fd(a.fileno(), libc::POLLIN, deadline, &mut Interrupt::new(&mut refuse)).unwrap_err();
    assert!(matches!(err, Error::Timeout), "{err:?}");
    // Ready: the events poll reported.
    b.send(b"x", 0).unwrap();
    let deadline = Some(Instant::now() + Duration::from_secs(5));
    let ready = wait::wait_fd(a.fileno(), libc::POLLIN, deadline, &mut Interrupt::none().sliced(slice)).unwrap();
    assert_eq!(ready & libc::POLLIN, libc::POLLIN);
}

#[test]
fn a_sliced_call_blocks_in_the_kernel_a_slice_at_a_time_and_runs_the_hook_between() {
    use wait::{Mode, CHECK_SLICE};
    let (a, b) = Socket::pair(libc::AF_UNIX, libc::SOCK_STREAM, 0).unwrap();
    a.block_in_slices().unwrap();
    let mut buf = [0u8; 8];
    // Nothing to read and no signal: each slice that passes (SO_RCVTIMEO) runs the hook, and
    // its error ends the call.
    let mut calls = 0;
    let mut check = interrupted_on_third_call(&mut calls);
    let err = a.recv_in(&mut buf, 0, Mode::Sliced(None), &mut Interrupt::new(&mut check).sliced(CHECK_SLICE));
    assert!(matches!(err, Err(Error::Interrupted)), "{err:?}");
    drop(check);
    assert_eq!(calls, 3);
    // The budget ends it (its last part, shorter than a slice, in poll).
    let budget = CHECK_SLICE + CHECK_SLICE / 2;
    let err = a.recv_in(&mut buf, 0, Mode::Sliced(Some(budget)), &mut Interrupt::none());
    assert!(matches!(err, Err(Error::Timeout)), "{err:?}");
    // Data already there is one call, even with no budget at all.
    b.send(b"ready", 0).unwrap();
    let n = a.recv_in(&mut buf, 0, Mode::Sliced(Some(Duration::ZERO)), &mut Interrupt::none()).unwrap();
    assert_eq!(&buf[..n], b"ready");
    // Sends go the same way.
    assert_eq!(a.send_in(b"back", 0, Mode::Sliced(None), &mut Interrupt::none()).unwrap(), 4);
    assert_eq!(b.recv(&mut buf, 0).unwrap(), 4);
}
