#!/usr/bin/env python3
"""Issue 15's rows: netcore answering PING over RESP against redis-server, same run, ratios.

    python3 bench/resp_bench.py                  # 5 rounds of 2 s per cell
    python3 bench/resp_bench.py --quick          # 3 rounds of 1 s (what docs/benchmarks.md ran)
    python3 bench/resp_bench.py --rounds 7 --seconds 3 --json figures.json
    python3 bench/resp_bench.py --quick --peers netcore,netcore-nopoll   # (redis always runs)

Peers, each answering `+PONG` on 127.0.0.1, RESP:
  redis       redis-server (no persistence), PING
  netcore     `netcore serve --framing resp`, the built-in PING
  netcore-nopoll the same with --busy-poll-us 0: busy poll off (docs/engine.md, "Busy poll")
  rust        bench/resp_server.rs: a user command in Rust, a closure (Lane::Inline, the default)
  rust-blocking the same closure marked `Blocking` (Lane::Blocking: block_in_place per batch)
  c           bench/resp_server.c: a user command in C (netcore_server_config_add_command)
  c-blocking  the same callback through netcore_server_config_add_blocking_command
  python      netcore.CommandServer(framing="resp") with a Python @server.command returning
              netcore.SimpleString("PONG") (run from .venv)

Load: `netcore bench --resp` (every reply checked with --expect PONG) at 50 connections x 1
and 50 x 16 pipelined; then `redis-benchmark -t ping_mbulk` against redis and netcore at the
same settings, with the CPU redis-benchmark itself used (from wait4): on two cores it is
often the limit itself, and the table says so (>= 0.8 cores: "tool-bound").

Servers are pinned to CPU 0 and the load generator to the last CPU (taskset), so they never
share a core. Every round runs every peer once per setting, the starting peer rotating;
each figure is the median over rounds and each ratio the median of the per-round ratios,
with their range in brackets. Server CPU per request (us/req) is from /proc/PID/stat.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent))
import engine_bench as eb  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
NETCORE = ROOT / "target" / "release" / "netcore"
RESP_SERVER = ROOT / "target" / "release" / "examples" / "resp_server"
RESP_SERVER_C = ROOT / "build" / "bench" / "resp_server_c"
PYTHON = ROOT / ".venv" / "bin" / "python"
HOST = "127.0.0.1"
SETTINGS: List[Tuple[int, int]] = [(50, 1), (50, 16)]
# What issue 15 asks of each peer against its reference, per setting (None: report only).
TARGETS: Dict[Tuple[str, str], Dict[int, float]] = {
    ("netcore", "redis"): {1: 1.0, 16: 1.5},
    ("netcore-nopoll", "redis"): {},
    ("rust", "netcore"): {1: 0.9, 16: 0.9},
    ("c", "netcore"): {1: 0.9, 16: 0.9},
    ("rust-blocking", "netcore"): {},
    ("c-blocking", "netcore"): {},
}

PY_PEER = """
import sys, netcore
server = netcore.CommandServer(("127.0.0.1", int(sys.argv[1])), framing="resp", max_connections=20000)
@server.command("pyping")
def pyping(request):
    return netcore.SimpleString("PONG")
print("ready", flush=True)
server.serve_forever()
"""


def cpu_s(pid: int) -> float:
    return eb.cpu_ticks(pid) / eb.TICK


class Peer:
    def __init__(self, key: str, argv: List[str], command: str):
        self.key, self.argv, self.command = key, argv, command
        self.port = eb.free_port()
        self.proc: Optional[subprocess.Popen] = None

    def start(self, server_cpus: str, workdir: Path) -> None:
        argv = [a.replace("{port}", str(self.port)) for a in self.argv]
        self.proc = subprocess.Popen(["taskset", "-c", server_cpus, *argv], cwd=workdir,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.key} exited at start")
            try:
                with socket.create_connection((HOST, self.port), timeout=2) as s:
                    s.sendall(f"{self.command}\r\n".encode())
                    if s.recv(64).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"{self.key} did not answer PONG on port {self.port}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


def timed(argv: List[str]) -> Tuple[str, float, float]:
    """Runs a load generator: (stdout, wall seconds, its CPU seconds from wait4)."""
    start = time.monotonic()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    out = proc.stdout.read() if proc.stdout else ""
    _, status, usage = os.wait4(proc.pid, 0)
    if proc.stdout:
        proc.stdout.close()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"{argv[3:6]} exited {proc.returncode}")
    return out, time.monotonic() - start, usage.ru_utime + usage.ru_stime


def run_bench(peer: Peer, conns: int, pipeline: int, seconds: float, load_cpu: str) -> Dict[str, float]:
    before = cpu_s(peer.proc.pid)
    out, _, _ = timed(["taskset", "-c", load_cpu, str(NETCORE), "bench", HOST, str(peer.port), "--resp",
                       "--conns", str(conns), "--pipeline", str(pipeline), "--duration", str(seconds),
                       "--request", peer.command, "--expect", "PONG", "--json", "-q"])
    r = json.loads(out)
    if r["errors"]:
        raise RuntimeError(f"{peer.key}: {r['errors']} errors ({r['first_error']})")
    server = cpu_s(peer.proc.pid) - before
    return {"rps": r["requests_per_sec"], "p50": r["latency_ms"]["p50"], "p99": r["latency_ms"]["p99"],
            "server_us": server / max(r["requests"], 1) * 1e6, "tool_cores": r["cpu_cores"]}


def run_redis_benchmark(peer: Peer, conns: int, pipeline: int, requests: int, load_cpu: str) -> Dict[str, float]:
    before = cpu_s(peer.proc.pid)
    out, wall, cpu = timed(["taskset", "-c", load_cpu, "redis-benchmark", "-h", HOST, "-p", str(peer.port),
                            "-c", str(conns), "-P", str(pipeline), "-n", str(requests), "-t", "ping_mbulk",
                            "--csv"])
    row = [line for line in out.splitlines() if line.startswith('"PING')][-1]
    fields = [f.strip('"') for f in row.split(",")]
    server = cpu_s(peer.proc.pid) - before
    return {"rps": float(fields[1]), "p50": float(fields[4]), "p99": float(fields[6]),
            "server_us": server / requests * 1e6, "tool_cores": cpu / wall}


def spread(values: List[float]) -> str:
    return f"{statistics.median(values):.2f}x [{min(values):.2f}-{max(values):.2f}]"


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=2.0, help="seconds per netcore bench run")
    ap.add_argument("--quick", action="store_true", help="3 rounds of 1 s")
    ap.add_argument("--json", type=Path, help="write every figure here")
    ap.add_argument("--peers", help="only these peers, comma-separated (redis always runs: it is the reference)")
    args = ap.parse_args(argv)
    if args.quick:
        args.rounds, args.seconds = 3, 1.0
    for tool in ("redis-server", "redis-benchmark", "taskset"):
        if shutil.which(tool) is None:
            print(f"resp_bench: {tool} is missing (Debian: redis-server, redis-tools, util-linux)", file=sys.stderr)
            return 1
    subprocess.run(["cargo", "build", "--release", "-q", "--bin", "netcore", "--example", "resp_server"],
                   cwd=ROOT, check=True)
    # The C server links the installed library, as a C user's program would.
    prefix = RESP_SERVER_C.parent / "prefix"
    subprocess.run(["make", "-s", "install", f"PREFIX={prefix}"], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    subprocess.run(["gcc", "-O2", "-Wall", "-Wextra", "-Werror", str(ROOT / "bench" / "resp_server.c"),
                    f"-I{prefix / 'include'}", f"-L{prefix / 'lib'}", "-lnetcore", f"-Wl,-rpath,{prefix / 'lib'}",
                    "-o", str(RESP_SERVER_C)], check=True)
    cpus = os.cpu_count() or 1
    server_cpu, load_cpu = "0", str(cpus - 1)
    if cpus < 2:
        print("resp_bench: one CPU only: server and load share it (figures are not comparable)", file=sys.stderr)
    peers = [
        Peer("redis", ["redis-server", "--port", "{port}", "--bind", HOST, "--save", "", "--appendonly", "no"], "PING"),
        Peer("netcore", [str(NETCORE), "serve", "--framing", "resp", "--listen", f"{HOST}:{{port}}",
                         "--max-conns", "20000"], "PING"),
        Peer("netcore-nopoll", [str(NETCORE), "serve", "--framing", "resp", "--listen", f"{HOST}:{{port}}",
                              "--max-conns", "20000", "--busy-poll-us", "0"], "PING"),
        Peer("rust", [str(RESP_SERVER), f"{HOST}:{{port}}"], "rping"),
        Peer("rust-blocking", [str(RESP_SERVER), f"{HOST}:{{port}}"], "rbping"),
        Peer("c", [str(RESP_SERVER_C), f"{HOST}:{{port}}"], "cping"),
        Peer("c-blocking", [str(RESP_SERVER_C), f"{HOST}:{{port}}"], "cbping"),
    ]
    if PYTHON.exists():
        peers.append(Peer("python", [str(PYTHON), "-c", PY_PEER, "{port}"], "pyping"))
    if args.peers:
        wanted = set(args.peers.split(",")) | {"redis"}
        unknown = wanted - {p.key for p in peers}
        if unknown:
            print(f"resp_bench: no peer {', '.join(sorted(unknown))}", file=sys.stderr)
            return 2
        if wanted & {"rust", "rust-blocking", "c", "c-blocking"}:
            wanted.add("netcore")  # the user commands' ratios are to the built-in PING
        peers = [p for p in peers if p.key in wanted]
    results: Dict[str, Dict[str, List[Dict[str, float]]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        try:
            for peer in peers:
                peer.start(server_cpu, Path(tmp))
            for rnd in range(args.rounds):
                for conns, pipeline in SETTINGS:
                    order = peers[rnd % len(peers):] + peers[:rnd % len(peers)]
                    for peer in order:
                        r = run_bench(peer, conns, pipeline, args.seconds, load_cpu)
                        results.setdefault(f"bench {conns}x{pipeline}", {}).setdefault(peer.key, []).append(r)
                    # redis-benchmark: as many requests as netcore bench managed in the time.
                    n = int(statistics.median(x["rps"] for x in results[f"bench {conns}x{pipeline}"]["redis"])
                            * args.seconds)
                    for peer in order:
                        if peer.key in ("redis", "netcore", "netcore-nopoll"):
                            r = run_redis_benchmark(peer, conns, pipeline, max(n, 10000), load_cpu)
                            results.setdefault(f"redis-benchmark {conns}x{pipeline}", {}).setdefault(
                                peer.key, []).append(r)
                print(f"round {rnd + 1}/{args.rounds} done", file=sys.stderr, flush=True)
        finally:
            for peer in peers:
                peer.stop()
    print(f"RESP PING, {args.rounds} rounds, servers on CPU {server_cpu}, load on CPU {load_cpu}"
          f" ({cpus} CPUs), medians; ratio = median of per-round ratios [range]\n")
    print("| load | conns x pipeline | peer | req/s | p50 ms | p99 ms | server us/req | load CPU cores | ratio |")
    print("|---|---|---|---|---|---|---|---|---|")
    for cell, by_peer in results.items():
        tool, setting = cell.split(" ", 1)
        pipeline = int(setting.split("x")[1])
        for key, runs in by_peer.items():
            med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
            ref = "redis" if key in ("netcore", "netcore-nopoll", "python") else ("netcore" if key != "redis" else None)
            ratio = ""
            if ref and ref in by_peer:
                values = [a["rps"] / b["rps"] for a, b in zip(runs, by_peer[ref])]
                ratio = f"{spread(values)} vs {ref}"
                target = TARGETS.get((key, ref), {}).get(pipeline)
                if target is not None:
                    ratio += f" (target >= {target}: {'met' if statistics.median(values) >= target else 'NOT met'})"
            bound = " tool-bound" if med["tool_cores"] >= 0.8 else ""
            print(f"| {tool} | {setting} | {key} | {med['rps']:,.0f} | {med['p50']:.3f} | {med['p99']:.3f} |"
                  f" {med['server_us']:.1f} | {med['tool_cores']:.2f}{bound} | {ratio} |")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
