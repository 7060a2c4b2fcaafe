#!/usr/bin/env python3
"""The engine's benchmark (issues 4 and 5): netcore's server against the peers a user would
pick instead, all driven by the same load generator (`netcore bench --json`) in the same run.

    python3 bench/engine_bench.py              # full run, about 6 minutes on 2 cores
    python3 bench/engine_bench.py --quick      # about 2 minutes: shorter and fewer runs
    python3 bench/engine_bench.py --only throughput --runs 3 --seconds 2

What it measures (every peer is started here on 127.0.0.1 and stopped by its own PID):

  throughput   50 connections, 1 request in flight each, then 16 pipelined per connection:
               netcore `command` (`os`) against the minimal tokio floor (bench/floor.rs),
               redis-server (inline PING) and memcached (`version`); netcore `greet` against
               the same greeting service on asyncio+uvloop and on socketserver.ThreadingTCPServer.
               p99 latency is compared with redis's at both settings.
  python       a Python function registered with netcore.Server + @server.command against an
               asyncio streams server calling the same function (50 connections, 1 in flight).
  pyhandler    issue 13 (bench/python_handlers.py): `def hi(req): return "hello"` on
               netcore.CommandServer + @command against asyncio streams and asyncio + uvloop
               calling it inline, 1 connection x 1, 16, 1000 pipelined and 50 x 1, 16, plus
               the built-in echo service's CPU per request beside the handler's.
  pyclient     issue 13: netcore.Client request() round trips and pipeline(1000) against a
               stdlib socket client doing the same writes and readline()s.
  idle         server RSS per idle connection, 10,000 connections: netcore against asyncio.
  redis-tools  issue 5's check, bench/redis_compare.py (bench/compare_redis.sh alone):
               `netcore bench` against `redis-benchmark` on the same redis-server, a
               server-bound EVAL and inline PING, each tool's CPU and a verdict per row.

Servers run on every core but the last and the load generator on the last (`taskset`), so
the generator never takes CPU from the server it measures; `--no-pin` lets them share.
Runs are interleaved (every peer once per round) and the table gives medians; a ratio is the
median of the per-round ratios, with their range beside it. Before each run
the script waits for the machine to be quiet; after it, the CPU time nobody of ours used
(from /proc/stat, minus the server's and the generator's own) is checked: a run disturbed by
other load is repeated (up to twice) and otherwise kept but flagged with `*`.

Packages: redis-server, redis-tools and memcached are installed with apt-get when missing (as
root), else their rows are skipped with a message; uvloop comes from bench/requirements.txt
into the repo's .venv. The driver itself needs only the Python 3 standard library.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

ROOT = Path(__file__).resolve().parents[1]
NETCORE = ROOT / "target/release/netcore"
FLOOR = ROOT / "target/release/examples/floor"
VENV_PY = ROOT / ".venv/bin/python"
CONNS = 50
HOST = "127.0.0.1"
TICK = os.sysconf("SC_CLK_TCK")
NCPU = os.cpu_count() or 1
SECTIONS = ["throughput", "python", "pyhandler", "pyclient", "idle", "redis-tools"]
# A run is disturbed when CPU time of other processes averages more than this many cores.
FOREIGN_LIMIT = 0.25


def log(msg: str) -> None:
    print(msg, flush=True)


# --------------------------------------------------------------------------------------------
# Peers run by this same file (`--peer NAME PORT`), under the repo's .venv Python.
# --------------------------------------------------------------------------------------------

def greeting(name: bytes) -> bytes:
    """The Python function both Python-handler servers call."""
    return b"Hello, " + name + b"!"


def _raise_nofile() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def peer_main(name: str, port: int) -> None:
    _raise_nofile()
    if name == "threading-greet":
        import socketserver

        class Greet(socketserver.StreamRequestHandler):
            disable_nagle_algorithm = True

            def handle(self) -> None:
                self.wfile.write(b"Hello, I am server\n")
                for line in self.rfile:
                    msg = line.rstrip(b"\r\n")
                    if msg == b"exit":
                        return
                    self.wfile.write(b"Hello, " + msg + b"!\n")

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True
            request_queue_size = 1024

        with Server((HOST, port), Greet) as srv:
            print("ready", flush=True)
            srv.serve_forever()
        return
    if name == "netcore-python":
        import netcore

        server = netcore.Server((HOST, port), "custom", max_connections=20000)

        @server.command("hello")
        def hello(request):  # type: ignore[no-untyped-def]
            return greeting(request.args)

        print("ready", flush=True)
        server.serve_forever()
        return

    import asyncio

    async def greet(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"Hello, I am server\n")
        try:
            while True:
                line = await reader.readline()
                msg = line.rstrip(b"\r\n")
                if not line or msg == b"exit":
                    break
                writer.write(b"Hello, " + msg + b"!\n")
                await writer.drain()
        except ConnectionError:
            pass
        writer.close()

    async def python_handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                line = await reader.readline()
                if not line:
                    break
                word, _, args = line.rstrip(b"\r\n").partition(b" ")
                reply = greeting(args.strip()) if word == b"hello" else b"error: unknown command"
                writer.write(reply + b"\n")
                await writer.drain()
        except ConnectionError:
            pass
        writer.close()

    async def serve(handler) -> None:  # type: ignore[no-untyped-def]
        srv = await asyncio.start_server(handler, HOST, port, backlog=1024)
        print("ready", flush=True)
        async with srv:
            await srv.serve_forever()

    handler = python_handler if name == "asyncio-python" else greet
    if name == "uvloop-greet":
        import uvloop

        uvloop.install()
    asyncio.run(serve(handler))


# --------------------------------------------------------------------------------------------
# Starting and stopping peers.
# --------------------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def cpu_ticks(pid: int) -> int:
    """User + system clock ticks of a process (all its threads)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))


def machine_busy() -> Tuple[int, int]:
    """(busy, total) clock ticks of all CPUs."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + v[4]
    return sum(v[:8]) - idle, sum(v[:8])


@dataclass
class Peer:
    key: str                 # short name used in the table
    label: str               # what it is
    argv: Callable[[int], List[str]]
    request: str
    expect: Optional[str]    # None: learnt from the first reply
    greeting_lines: int = 0
    env: Dict[str, str] = field(default_factory=dict)
    proc: Optional[subprocess.Popen] = None
    port: int = 0
    workdir: Optional[Path] = None

    def start(self, tmp: Path) -> None:
        self.port = free_port()
        self.workdir = tmp / self.key
        self.workdir.mkdir(exist_ok=True)
        out = open(self.workdir / "log", "wb")
        self.proc = subprocess.Popen(self.argv(self.port), stdout=out, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, cwd=self.workdir,
                                     env={**os.environ, **self.env})
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.label} exited at start: {self.log_tail()}")
            try:
                reply = self.ask()
                if self.expect is None:
                    self.expect = reply
                elif reply != self.expect:
                    raise RuntimeError(f"{self.label} answered {reply!r}, expected {self.expect!r}")
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"{self.label} did not answer on port {self.port} within 30 s")

    def ask(self) -> str:
        with socket.create_connection((HOST, self.port), timeout=2) as s:
            f = s.makefile("rb")
            for _ in range(self.greeting_lines):
                f.readline()
            s.sendall(self.request.encode() + b"\n")
            return f.readline().rstrip(b"\r\n").decode()

    def log_tail(self) -> str:
        try:
            return (self.workdir / "log").read_text(errors="replace")[-400:].strip()
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.proc = None

    def cpu_s(self) -> float:
        return cpu_ticks(self.proc.pid) / TICK


def py_peer(name: str) -> Callable[[int], List[str]]:
    return lambda port: [str(VENV_PY), str(Path(__file__).resolve()), "--peer", name, str(port)]


def all_peers(pin: Optional[str]) -> Dict[str, Peer]:
    pre = ["taskset", "-c", pin] if pin else []
    nc = lambda service: (lambda port: pre + [str(NETCORE), "serve", "--service", service,  # noqa: E731
                                               "--listen", f"{HOST}:{port}", "--max-conns", "20000"])
    return {p.key: p for p in [
        Peer("netcore", "netcore serve --service command (os)", nc("command"), "os", "[posix]"),
        Peer("floor", "minimal tokio server (bench/floor.rs)", lambda port: pre + [str(FLOOR), f"{HOST}:{port}"],
             "os", "ok"),
        Peer("redis", "redis-server (inline PING)",
             lambda port: pre + ["redis-server", "--bind", HOST, "--port", str(port), "--save", "",
                                 "--appendonly", "no", "--maxclients", "20000"], "PING", "+PONG"),
        Peer("memcached", "memcached (version)",
             lambda port: pre + ["memcached", "-l", HOST, "-p", str(port), "-U", "0", "-c", "20000"]
             + (["-u", "root"] if os.geteuid() == 0 else []), "version", None),
        Peer("netcore-greet", "netcore serve --service greet", nc("greet"), "bob", "Hello, bob!", 1),
        Peer("uvloop", "asyncio + uvloop, greeting service", lambda port: pre + py_peer("uvloop-greet")(port),
             "bob", "Hello, bob!", 1),
        Peer("threading", "socketserver.ThreadingTCPServer, greeting service",
             lambda port: pre + py_peer("threading-greet")(port), "bob", "Hello, bob!", 1),
        Peer("netcore-py", "netcore.Server + @server.command (Python function)",
             lambda port: pre + py_peer("netcore-python")(port), "hello bob", "Hello, bob!"),
        Peer("asyncio-py", "asyncio streams server, same Python function",
             lambda port: pre + py_peer("asyncio-python")(port), "hello bob", "Hello, bob!"),
        Peer("asyncio-greet", "asyncio streams, greeting service", py_peer("asyncio-greet"),
             "bob", "Hello, bob!", 1),
    ]}


# --------------------------------------------------------------------------------------------
# Measuring.
# --------------------------------------------------------------------------------------------

@dataclass
class Run:
    rps: float
    p50: float
    p99: float
    gen_cores: float      # the load generator's CPU (from its own JSON)
    server_cores: float
    foreign_cores: float  # CPU used by processes that are neither
    errors: int
    disturbed: bool

    @property
    def server_us(self) -> float:
        """Server CPU per request, in microseconds."""
        return self.server_cores / self.rps * 1e6 if self.rps else float("nan")


def wait_quiet(limit: float = FOREIGN_LIMIT, max_wait: float = 6.0) -> float:
    """Waits until the machine's CPU use (0.3 s samples) is below `limit` cores; returns it."""
    deadline = time.monotonic() + max_wait
    while True:
        b0, t0 = machine_busy()
        time.sleep(0.3)
        b1, t1 = machine_busy()
        busy = (b1 - b0) / max(1, t1 - t0) * NCPU
        if busy < limit:
            return busy
        if time.monotonic() > deadline:
            log(f"    (machine still busy after {max_wait:g} s: {busy:.2f} cores used by others; running anyway)")
            return busy
        log(f"    (machine busy: {busy:.2f} cores in use by others, waiting)")


def bench_once(peer: Peer, pipeline: int, seconds: float, gen_prefix: List[str], conns: int = CONNS) -> Run:
    wait_quiet()
    argv = gen_prefix + [str(NETCORE), "bench", HOST, str(peer.port), "--conns", str(conns),
                         "--pipeline", str(pipeline), "--duration", str(seconds), "--request", peer.request,
                         "--greeting-lines", str(peer.greeting_lines), "--json", "--quiet", "--timeout", "10"]
    if peer.expect is not None:
        argv += ["--expect", peer.expect]
    srv0 = peer.cpu_s()
    b0, t0 = machine_busy()
    w0 = time.monotonic()
    gen = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = gen.communicate(timeout=seconds + 60)
    wall = time.monotonic() - w0
    b1, t1 = machine_busy()
    srv = peer.cpu_s() - srv0
    try:
        r = json.loads(out)
    except ValueError:
        raise RuntimeError(f"netcore bench against {peer.label} failed: {err.decode(errors='replace')[-300:]}")
    # CPU used by other processes = all busy CPU - the server's - the generator's (its JSON
    # counts the measured part; starting and connecting are a few ms of the interval).
    gen_cpu = r["cpu_user_s"] + r["cpu_system_s"]
    busy_s = (b1 - b0) / TICK
    foreign = max(0.0, busy_s - srv - gen_cpu) / wall
    return Run(rps=r["requests_per_sec"], p50=r["latency_ms"]["p50"], p99=r["latency_ms"]["p99"],
               gen_cores=r["cpu_cores"], server_cores=srv / r["duration_s"], foreign_cores=foreign,
               errors=r["errors"], disturbed=foreign > FOREIGN_LIMIT)


def measure(peer: Peer, pipeline: int, seconds: float, retries: int, gen_prefix: List[str],
            conns: int = CONNS) -> Run:
    for attempt in range(retries + 1):
        run = bench_once(peer, pipeline, seconds, gen_prefix, conns)
        if not run.disturbed:
            return run
        log(f"    {peer.key} P{pipeline}: disturbed ({run.foreign_cores:.2f} cores used by others)"
            + (", repeating" if attempt < retries else ", kept and flagged"))
    return run


@dataclass
class Cell:
    runs: List[Run] = field(default_factory=list)

    def med(self, attr: str) -> float:
        return statistics.median(getattr(r, attr) for r in self.runs) if self.runs else float("nan")

    def ratio_to(self, other: "Cell") -> Tuple[float, float, float]:
        """(median, lowest, highest) of this cell's req/s over `other`'s, round by round.

        Each round runs every peer back to back, so a slow spell of the machine (the 2-core
        box swings between two speeds for tens of seconds) hits both sides of a round's ratio;
        a ratio of the two medians can instead pair one peer's fast rounds with another's slow
        ones."""
        pairs = [a.rps / b.rps for a, b in zip(self.runs, other.runs) if b.rps > 0]
        if not pairs:
            return float("nan"), float("nan"), float("nan")
        return statistics.median(pairs), min(pairs), max(pairs)

    @property
    def flagged(self) -> int:
        return sum(r.disturbed for r in self.runs)

    @property
    def errors(self) -> int:
        return sum(r.errors for r in self.runs)


def fmt_rate(x: float) -> str:
    return "-" if x != x else f"{x:,.0f}"


# --------------------------------------------------------------------------------------------
# Setup: build, packages, the .venv.
# --------------------------------------------------------------------------------------------

def ensure_build() -> None:
    log("building netcore and the floor (cargo build --release)")
    subprocess.run(["cargo", "build", "--release", "--quiet", "--bin", "netcore", "--example", "floor"],
                   cwd=ROOT, check=True)


def ensure_apt(commands: Dict[str, str]) -> Dict[str, bool]:
    """{command: package}; installs missing packages with apt-get when root. -> {command: ok}"""
    missing = sorted({pkg for cmd, pkg in commands.items() if not shutil.which(cmd)})
    if missing:
        if os.geteuid() != 0 or not shutil.which("apt-get"):
            log(f"  missing {', '.join(missing)} and cannot install them (need root and apt-get)")
        else:
            log(f"  installing {', '.join(missing)} with apt-get")
            env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
            subprocess.run(["apt-get", "update", "-qq"], env=env, check=False)
            subprocess.run(["apt-get", "install", "-y", "-qq", *missing], env=env, check=False,
                           stdout=subprocess.DEVNULL)
    return {cmd: shutil.which(cmd) is not None for cmd in commands}


def venv_has(module: str) -> bool:
    return VENV_PY.exists() and subprocess.run([str(VENV_PY), "-c", f"import {module}"],
                                               capture_output=True).returncode == 0


def ensure_venv() -> Tuple[bool, bool]:
    """-> (uvloop importable, netcore importable) in the repo's .venv."""
    if not VENV_PY.exists():
        log("  creating .venv")
        subprocess.run([sys.executable, "-m", "venv", str(ROOT / ".venv")], check=True)
    if not venv_has("uvloop"):
        log("  installing bench/requirements.txt (uvloop) into .venv")
        subprocess.run([str(VENV_PY), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                        "-r", str(ROOT / "bench/requirements.txt")], check=False)
    if not venv_has("netcore"):
        log("  building the Python module into .venv (maturin develop --profile python)")
        if not venv_has("maturin"):
            subprocess.run([str(VENV_PY), "-m", "pip", "install", "-q", "-r", str(ROOT / "requirements-dev.txt")],
                           check=False)
        subprocess.run([str(ROOT / ".venv/bin/maturin"), "develop", "--profile", "python", "-q"], cwd=ROOT, check=False,
                       env={**os.environ, "VIRTUAL_ENV": str(ROOT / ".venv")})
    return venv_has("uvloop"), venv_has("netcore")


# --------------------------------------------------------------------------------------------
# Idle memory (also used by bench/idle_memory.py).
# --------------------------------------------------------------------------------------------

def idle_rss(peer: Peer, n: int) -> Tuple[int, int, float]:
    """Opens n idle connections to a started peer; -> (RSS before KiB, after KiB, bytes each)."""
    socks = []
    try:
        time.sleep(0.3)
        before = rss_kib(peer.proc.pid)
        deadline = time.monotonic() + 120
        for i in range(n):
            if time.monotonic() > deadline:
                raise RuntimeError(f"opening {n} connections took more than 120 s")
            socks.append(socket.create_connection((HOST, peer.port), timeout=20))
        last = socks[-1]
        last.settimeout(20)
        f = last.makefile("rb")
        for _ in range(peer.greeting_lines):
            f.readline()
        last.sendall(peer.request.encode() + b"\n")
        f.readline()  # every connection before it has been accepted
        time.sleep(1)
        after = rss_kib(peer.proc.pid)
        return before, after, (after - before) * 1024 / n
    finally:
        for s in socks:
            s.close()


# --------------------------------------------------------------------------------------------
# The run.
# --------------------------------------------------------------------------------------------

def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="\n\n".join(__doc__.split("\n\n")[1:]))
    ap.add_argument("--quick", action="store_true", help="3 runs of 1 s each, 2,000 idle connections (about 2 min)")
    ap.add_argument("--runs", type=int, help="interleaved runs per measurement (default 5, quick 3)")
    ap.add_argument("--seconds", type=float, help="seconds per run (default 2.5, quick 1)")
    ap.add_argument("--idle", type=int, help="idle connections for the memory row (default 10000, quick 2000)")
    ap.add_argument("--only", action="append", choices=SECTIONS,
                    help="run only these sections (repeatable)")
    ap.add_argument("--no-pin", dest="pin", action="store_false",
                    help="let servers and the load generator share every core (default: servers on all "
                         "cores but the last, the load generator on the last)")
    ap.add_argument("--json", metavar="FILE", help="also write every figure to FILE as JSON")
    ap.add_argument("--peer", nargs=2, metavar=("NAME", "PORT"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.peer:
        peer_main(args.peer[0], int(args.peer[1]))
        return 0

    runs = args.runs or (3 if args.quick else 5)
    secs = args.seconds or (1.0 if args.quick else 2.5)
    n_idle = args.idle or (2000 if args.quick else 10000)
    sections = set(args.only or SECTIONS)
    retries = 1
    if args.pin and (NCPU < 2 or not shutil.which("taskset")):
        log("pinning needs 2 cores and taskset: servers and load generator share the cores")
        args.pin = False
    srv_cpus, gen_cpu = (f"0-{NCPU - 2}" if NCPU > 2 else "0"), str(NCPU - 1)
    srv_pin, gen_prefix = (srv_cpus, ["taskset", "-c", gen_cpu]) if args.pin else (None, [])

    t_start = time.monotonic()
    log(f"netcore engine benchmark: {NCPU} cores, {CONNS} connections, {runs} interleaved runs of {secs:g} s, "
        f"load generator `netcore bench` {f'on CPU {gen_cpu}, servers on CPU {srv_cpus}' if args.pin else 'sharing the cores'}")
    log(f"load average {open('/proc/loadavg').read().split()[:3]}")
    _raise_nofile()
    ensure_build()
    tools = ensure_apt({"redis-server": "redis-server", "redis-benchmark": "redis-tools", "memcached": "memcached"})
    has_uvloop, has_netcore_py = ensure_venv()
    import python_handlers  # issue 13's rows (bench/python_handlers.py)

    peers = all_peers(srv_pin)
    peers.update(python_handlers.peers(srv_pin))
    unavailable = {}
    if not tools["redis-server"]:
        unavailable["redis"] = "redis-server is not installed"
    if not tools["memcached"]:
        unavailable["memcached"] = "memcached is not installed"
    if not has_uvloop:
        unavailable["uvloop"] = "uvloop is not importable in .venv (pip install -r bench/requirements.txt)"
    if not has_netcore_py:
        unavailable["netcore-py"] = "the netcore Python module is not in .venv (maturin develop --profile python)"
    for k, why in unavailable.items():
        log(f"  skipping {k}: {why}")

    import tempfile
    tmp = Path(tempfile.mkdtemp(prefix="netcore-bench-"))
    started: List[Peer] = []
    results: Dict[str, object] = {"cores": NCPU, "connections": CONNS, "runs": runs, "seconds": secs,
                                  "pinned": bool(args.pin)}
    try:
        def start(keys: List[str]) -> List[Peer]:
            out = []
            for k in keys:
                if k in unavailable:
                    continue
                p = peers[k]
                try:
                    p.start(tmp)
                except RuntimeError as e:
                    log(f"  skipping {k}: {e}")
                    unavailable[k] = str(e)
                    continue
                started.append(p)
                out.append(p)
                log(f"  started {p.label} on {HOST}:{p.port} (pid {p.proc.pid})")
            return out

        def run_matrix(active: List[Peer], pipelines: List[int]) -> Dict[Tuple[str, int], Cell]:
            cells = {(p.key, d): Cell() for p in active for d in pipelines}
            for p in active:  # warm-up, not counted
                for d in pipelines:
                    bench_once(p, d, min(0.5, secs), gen_prefix)
            for i in range(runs):
                log(f"  round {i + 1}/{runs}")
                for d in pipelines:
                    order = active[i % len(active):] + active[:i % len(active)]
                    for p in order:
                        run = measure(p, d, secs, retries, gen_prefix)
                        cells[(p.key, d)].runs.append(run)
                        log(f"    {p.key:<13} P{d:<2} {run.rps:>12,.0f} req/s  p99 {run.p99:7.3f} ms  "
                            f"generator {run.gen_cores:.2f} cores  server {run.server_cores:.2f} cores"
                            + (f"  errors {run.errors}" if run.errors else "")
                            + ("  *disturbed" if run.disturbed else ""))
            return cells

        tables: List[str] = []
        verdicts: List[Tuple[str, bool]] = []

        if "throughput" in sections:
            log("\n== throughput: 50 connections, pipeline 1 and 16 ==")
            active = start(["netcore", "floor", "redis", "memcached", "netcore-greet", "uvloop", "threading"])
            cells = run_matrix(active, [1, 16])
            for p in active:
                p.stop()
            targets = {1: {"floor": 0.9, "redis": 1.0, "memcached": 1.2, "uvloop": 2.0, "threading": 5.0},
                       16: {"floor": 0.9, "redis": 1.5, "memcached": 1.3, "uvloop": 15.0, "threading": 15.0}}
            rows = ["| setting | server | req/s (median) | p50 ms | p99 ms | server cores | server CPU µs/req "
                    "| generator cores | netcore / peer | floor / peer | target | met |",
                    "|---|---|---|---|---|---|---|---|---|---|---|---|"]
            thr = {}
            for d in (1, 16):
                for k in ["netcore", "floor", "redis", "memcached", "netcore-greet", "uvloop", "threading"]:
                    c = cells.get((k, d))
                    if c is None:
                        rows.append(f"| P{d} | {peers[k].label} | skipped: {unavailable.get(k, '?')} | | | | | | | | | |")
                        continue
                    # What a server that does nothing but reply scores against the same peer in
                    # the same rounds: the most any engine can show on this machine.
                    floor = cells.get(("floor", d))
                    floor_ratio = ""
                    if floor and k not in ("netcore", "netcore-greet", "floor"):
                        f_med, f_lo, f_hi = floor.ratio_to(c)
                        floor_ratio = f"{f_med:.2f}x ({f_lo:.2f}–{f_hi:.2f})"
                    base = cells.get(("netcore-greet" if k in ("uvloop", "threading") else "netcore", d))
                    ratio, lo, hi = base.ratio_to(c) if base else (float("nan"),) * 3
                    tgt = targets[d].get(k)
                    met = ""
                    if tgt is not None:
                        ok = ratio >= tgt
                        verdicts.append((f"P{d}: netcore {ratio:.2f}x {k} (target >= {tgt}x)", ok))
                        met = "yes" if ok else "**no**"
                    flag = f" ({c.flagged} of {len(c.runs)} runs disturbed*)" if c.flagged else ""
                    err = f" ({c.errors} errors)" if c.errors else ""
                    rows.append(f"| P{d} | {peers[k].label} | {fmt_rate(c.med('rps'))}{flag}{err} | "
                                f"{c.med('p50'):.3f} | {c.med('p99'):.3f} | {c.med('server_cores'):.2f} | "
                                f"{c.med('server_us'):.2f} | {c.med('gen_cores'):.2f} | "
                                + (f"{ratio:.2f}x ({lo:.2f}–{hi:.2f})" if k not in ("netcore", "netcore-greet") else "") +
                                f" | {floor_ratio} | {'>= %gx' % tgt if tgt else ''} | {met} |")
                    thr[f"P{d}/{k}"] = {"rps": c.med("rps"), "p50_ms": c.med("p50"), "p99_ms": c.med("p99"),
                                        "server_cores": c.med("server_cores"), "server_us_per_request": c.med("server_us"),
                                        "generator_cores": c.med("gen_cores"),
                                        "netcore_ratio_per_round": None if k in ("netcore", "netcore-greet")
                                        else {"median": ratio, "min": lo, "max": hi},
                                        "runs": [r.__dict__ for r in c.runs]}
                n, r = cells.get(("netcore", d)), cells.get(("redis", d))
                if n and r:
                    ok = n.med("p99") <= r.med("p99")
                    verdicts.append((f"P{d}: p99 netcore {n.med('p99'):.3f} ms vs redis {r.med('p99'):.3f} ms "
                                     "(target: no worse)", ok))
            results["throughput"] = thr
            tables.append("\n".join(rows))

        if "python" in sections:
            log("\n== a Python handler: netcore.Server + @server.command vs asyncio streams, 50 connections ==")
            active = start(["netcore-py", "asyncio-py"])
            cells = run_matrix(active, [1, 16])
            for p in active:
                p.stop()
            rows = ["| setting | server | req/s (median) | p50 ms | p99 ms | server cores | server CPU µs/req "
                    "| generator cores | ratio | target | met |", "|---|---|---|---|---|---|---|---|---|---|---|"]
            py = {}
            for d in (1, 16):
                n, a = cells.get(("netcore-py", d)), cells.get(("asyncio-py", d))
                for k, c in (("netcore-py", n), ("asyncio-py", a)):
                    if c is None:
                        rows.append(f"| P{d} | {peers[k].label} | skipped: {unavailable.get(k, '?')} | | | | | | | | |")
                        continue
                    ratio, met, tgt = "", "", ""
                    if k == "asyncio-py" and n:
                        x, lo, hi = n.ratio_to(c)
                        ratio, tgt = f"{x:.2f}x ({lo:.2f}–{hi:.2f})", ">= 2x"
                        met = "yes" if x >= 2 else "**no**"
                        verdicts.append((f"P{d}: Python handler netcore {x:.2f}x asyncio streams (target >= 2x)",
                                         x >= 2))
                    flag = f" ({c.flagged} of {len(c.runs)} runs disturbed*)" if c.flagged else ""
                    rows.append(f"| P{d} | {peers[k].label} | {fmt_rate(c.med('rps'))}{flag} | {c.med('p50'):.3f} | "
                                f"{c.med('p99'):.3f} | {c.med('server_cores'):.2f} | {c.med('server_us'):.2f} | "
                                f"{c.med('gen_cores'):.2f} | {ratio} | {tgt} | {met} |")
                    py[f"P{d}/{k}"] = {"rps": c.med("rps"), "p99_ms": c.med("p99")}
            results["python"] = py
            tables.append("\n".join(rows))

        if "pyhandler" in sections:
            log("\n== issue 13: Python hi on netcore.CommandServer vs asyncio streams and uvloop, "
                "1 and 50 connections ==")
            table, v, figures = python_handlers.run_pyhandler(start, runs, secs, retries, gen_prefix)
            tables.append(table)
            verdicts += v
            results["pyhandler"] = figures

        if "pyclient" in sections:
            log("\n== issue 13: netcore.Client against a stdlib socket client, netcore serve --service command ==")
            table, v, figures = python_handlers.run_pyclient(start, runs, secs, gen_prefix)
            tables.append(table)
            verdicts += v
            results["pyclient"] = figures

        if "idle" in sections:
            log(f"\n== idle memory: {n_idle} idle connections ==")
            rows = ["| server | RSS before | RSS after | per connection | target | met |", "|---|---|---|---|---|---|"]
            idle = {}
            for k in ["netcore-greet", "asyncio-greet"]:
                (p,) = start([k]) or (None,)
                if p is None:
                    continue
                before, after, each = idle_rss(p, n_idle)
                p.stop()
                log(f"  {k}: RSS {before} KiB -> {after} KiB: {each / 1024:.2f} KiB per connection")
                tgt, met = "", ""
                if k == "netcore-greet":
                    tgt, met = "<= 4 KiB", "yes" if each <= 4096 else "**no**"
                    verdicts.append((f"idle: netcore {each / 1024:.2f} KiB per connection (target <= 4 KiB)",
                                     each <= 4096))
                rows.append(f"| {p.label} | {before:,} KiB | {after:,} KiB | {each / 1024:.2f} KiB | {tgt} | {met} |")
                idle[k] = {"before_kib": before, "after_kib": after, "bytes_per_conn": each}
            results["idle"] = {"connections": n_idle, **idle}
            tables.append("\n".join(rows))

        if "redis-tools" in sections:
            if not (tools["redis-server"] and tools["redis-benchmark"]):
                log("\n== issue 5: skipped (redis-server or redis-benchmark missing) ==")
            else:
                import redis_compare  # the same check as bench/compare_redis.sh

                log("\n== issue 5: netcore bench vs redis-benchmark, same redis-server, 50 connections ==")
                rows = redis_compare.compare(list(redis_compare.WORKLOADS), [1, 16], 3,
                                             args.pin, scale=0.4 if args.quick else 1.0)
                results["redis_tools"] = [r.summary() for r in rows]
                tables.append("netcore bench vs redis-benchmark (issue 5), medians of 3 interleaved rounds; "
                              "rb = redis-benchmark, nb = netcore bench; tool-bound = at >= "
                              f"{redis_compare.TOOL_BOUND} cores, its figure is its own limit\n\n"
                              + redis_compare.table(rows))

        log(f"\n== summary ({time.monotonic() - t_start:.0f} s; medians of {runs} interleaved runs of {secs:g} s; "
            f"P = requests in flight per connection; * = disturbed by other load) ==\n")
        for t in tables:
            log(t + "\n")
        if verdicts:
            met = [v for v, ok in verdicts if ok]
            missed = [v for v, ok in verdicts if not ok]
            log(f"targets met ({len(met)} of {len(verdicts)}):")
            for v in met:
                log(f"  met     {v}")
            for v in missed:
                log(f"  MISSED  {v}")
        results["verdicts"] = [{"what": v, "met": ok} for v, ok in verdicts]
        if args.json:
            Path(args.json).write_text(json.dumps(results, indent=1))
            log(f"figures written to {args.json}")
    finally:
        for p in started:
            p.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
