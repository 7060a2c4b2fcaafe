//! `ServerConfig::busy_poll`: a connection looks for its client's next request for a while
//! after each reply instead of sleeping at once. It must answer exactly as the ordinary read
//! does, keep the worker awake through quick round trips, and leave the idle timeout and stop
//! working.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use netcore::server::{BoundAddr, Framing, Limits, Request, Response, Server, ServerConfig, Service, MAX_BUSY_POLL};

const T: Duration = Duration::from_secs(10);

fn start(config: ServerConfig) -> (Server, SocketAddr) {
    let s = Server::start(config.tcp("127.0.0.1:0".parse().unwrap())).expect("server starts");
    let addr = s
        .local_addrs()
        .iter()
        .find_map(|a| if let BoundAddr::Tcp(a) = a { Some(*a) } else { None })
        .expect("a TCP listener");
    (s, addr)
}

fn connect(addr: SocketAddr) -> (TcpStream, BufReader<TcpStream>) {
    let c = TcpStream::connect(addr).unwrap();
    c.set_read_timeout(Some(T)).unwrap();
    c.set_nodelay(true).unwrap();
    let r = BufReader::new(c.try_clone().unwrap());
    (c, r)
}

fn line(r: &mut BufReader<TcpStream>) -> String {
    let mut s = String::new();
    r.read_line(&mut s).unwrap();
    s
}

/// How often thread `tid` of this process went to sleep (its voluntary context switches).
fn sleeps_of(tid: u64) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/self/task/{tid}/status")).expect("the worker thread");
    status
        .lines()
        .find_map(|l| l.strip_prefix("voluntary_ctxt_switches:"))
        .map(|v| v.trim().parse().unwrap())
        .expect("voluntary_ctxt_switches")
}

/// The CPU time thread `tid` of this process has used (user and system), at the kernel's
/// tick resolution.
fn cpu_of(tid: u64) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")).expect("the worker thread");
    // Fields after the command name (which may hold spaces): utime and stime are 12th and 13th.
    let after_name = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<u64> = after_name.split(' ').skip(11).take(2).map(|f| f.parse().unwrap()).collect();
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as u64;
    Duration::from_millis((fields[0] + fields[1]) * 1000 / ticks)
}

/// A server with one worker, and a client; the worker's thread id comes from a command
/// answering with its own (commands run inline on it), so servers of tests running alongside
/// are not counted.
struct OneWorker {
    server: Server,
    w: TcpStream,
    r: BufReader<TcpStream>,
    tid: u64,
}

impl OneWorker {
    fn start(busy_poll: Duration) -> Self {
        let config = ServerConfig::new(Service::Custom)
            .workers(1)
            .busy_poll(busy_poll)
            // SAFETY: gettid has no preconditions.
            .command("tid", |_: &Request<'_>| Response::Reply(unsafe { libc::gettid() }.to_string().into_bytes()))
            .command("hi", |_: &Request<'_>| Response::Reply(b"hi".to_vec()));
        let (server, addr) = start(config);
        let (mut w, mut r) = connect(addr);
        w.write_all(b"tid\n").unwrap();
        let tid: u64 = line(&mut r).trim().parse().unwrap();
        OneWorker { server, w, r, tid }
    }

    /// `n` round trips, each after `pause`.
    fn round_trips(&mut self, n: usize, pause: Duration) {
        for _ in 0..n {
            std::thread::sleep(pause);
            self.w.write_all(b"hi\n").unwrap();
            assert_eq!(line(&mut self.r), "hi\n");
        }
    }
}

/// Sleeps of the one worker over 300 round trips with a pause far longer than the worker
/// ever stays up on its own, far shorter than the window of the busy-poll tests: without busy
/// poll every request finds the worker asleep.
fn round_trips_cost_sleeps(busy_poll: Duration) -> u64 {
    let mut one = OneWorker::start(busy_poll);
    let before = sleeps_of(one.tid);
    one.round_trips(300, Duration::from_millis(2));
    let slept = sleeps_of(one.tid) - before;
    one.server.stop(T).unwrap();
    slept
}

#[test]
fn busy_poll_reads_quick_clients_without_the_worker_sleeping() {
    // Ordinary reads: the worker sleeps once per round trip. With a window far longer than the
    // client's pause it finds each next request awake (margins for a loaded machine).
    let ordinary = round_trips_cost_sleeps(Duration::ZERO);
    let polled = round_trips_cost_sleeps(MAX_BUSY_POLL);
    eprintln!("worker sleeps in 300 round trips: ordinary {ordinary}, busy-polled {polled}");
    assert!(ordinary >= 250, "ordinary reads slept {ordinary} times in 300 round trips");
    assert!(polled <= 30, "busy-polled reads slept {polled} times in 300 round trips");
}

#[test]
fn a_client_slower_than_the_window_is_not_spun_for_until_it_comes_back_quicker() {
    // A window of 10 ms and a client pausing 25 ms: spinning after every reply would cost the
    // worker ~10 ms of CPU per round trip (400 ms over 40); spins that find nothing back off
    // (tried at requests 1, 3, 6, 11, 20 and 37: ~60 ms).
    let mut one = OneWorker::start(Duration::from_millis(10));
    let cpu = cpu_of(one.tid);
    one.round_trips(40, Duration::from_millis(25));
    let spent = cpu_of(one.tid) - cpu;
    eprintln!("worker CPU over 40 slow round trips: {spent:?}");
    assert!(spent < Duration::from_millis(200), "spun for a slow client: {spent:?} of CPU");
    // The same client turning quick is spun for again: the worker stays awake.
    let before = sleeps_of(one.tid);
    one.round_trips(300, Duration::from_millis(2));
    let slept = sleeps_of(one.tid) - before;
    assert!(slept <= 30, "the quick client's reads slept {slept} times in 300 round trips");
    one.server.stop(T).unwrap();
}

#[test]
fn busy_poll_answers_as_the_ordinary_read_does() {
    let (s, addr) = start(ServerConfig::new(Service::Echo).busy_poll(Duration::from_millis(1)));
    let (mut w, mut r) = connect(addr);
    // Pipelined, then one line cut in pieces arriving after the window has run out.
    let many: String = (0..1000).map(|i| format!("{i}\n")).collect();
    w.write_all(many.as_bytes()).unwrap();
    for i in 0..1000 {
        assert_eq!(line(&mut r), format!("{i}\n"));
    }
    for piece in [&b"sl"[..], b"ow li", b"ne\r\n"] {
        w.write_all(piece).unwrap();
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(line(&mut r), "slow line\n");
    // A last line without its newline is answered at the half-close.
    w.write_all(b"last").unwrap();
    w.shutdown(std::net::Shutdown::Write).unwrap();
    let mut rest = String::new();
    r.read_to_string(&mut rest).unwrap();
    assert_eq!(rest, "last\n");
    s.stop(T).unwrap();

    let (s, addr) = start(ServerConfig::new(Service::Command).framing(Framing::Resp).busy_poll(MAX_BUSY_POLL));
    let (mut w, mut r) = connect(addr);
    w.write_all(b"*1\r\n$4\r\nPING\r\n*2\r\n$4\r\nECHO\r\n$2\r\nhi\r\n").unwrap();
    assert_eq!(line(&mut r), "+PONG\r\n");
    assert_eq!((line(&mut r), line(&mut r)), ("$2\r\n".into(), "hi\r\n".into()));
    s.stop(T).unwrap();
}

#[test]
fn busy_poll_leaves_the_idle_timeout_and_stop_working() {
    let limits = Limits { idle_timeout: Some(Duration::from_millis(300)), ..Limits::default() };
    let (s, addr) = start(ServerConfig::new(Service::Echo).limits(limits).busy_poll(MAX_BUSY_POLL));
    let (mut w, mut r) = connect(addr);
    w.write_all(b"hi\n").unwrap();
    assert_eq!(line(&mut r), "hi\n");
    let quiet = Instant::now();
    assert_eq!(line(&mut r), "", "closed once silent for the idle limit");
    assert!(quiet.elapsed() >= Duration::from_millis(250), "{:?}", quiet.elapsed());

    // A client inside its window when the server stops: stop still returns promptly.
    let (mut w, mut r) = connect(addr);
    w.write_all(b"hi\n").unwrap();
    assert_eq!(line(&mut r), "hi\n");
    let stopping = Instant::now();
    s.stop(T).unwrap();
    assert!(stopping.elapsed() < Duration::from_secs(5), "{:?}", stopping.elapsed());
    assert_eq!(line(&mut r), "", "closed by the stop");
}
