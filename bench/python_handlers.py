#!/usr/bin/env python3
"""Issue 13's rows: Python handlers and netcore.Client at engine speed.

    python3 bench/engine_bench.py --only pyhandler --only pyclient --runs 3 --seconds 1
    python3 bench/python_handlers.py --runs 3 --seconds 1      # the same two sections alone

pyhandler  The same Python function, `def hi(req): return "hello"`, registered with
           netcore.CommandServer + @server.command("hi") against an asyncio streams server and
           an asyncio + uvloop server that call it inline (readline, call, write, drain), at
           1 connection x 1, x 16 and x 1000 pipelined and 50 connections x 1 and x 16.
           The default netcore server busy-polls 50 us (docs/engine.md, "Busy poll"); the
           same server with busy_poll_us=0 (off) is one more peer, its ratios to asyncio
           and uvloop beside it.
           Beside them the built-in `echo` service on netcore.Server in the same kind of
           Python process, busy poll off: the handler's CPU per request above echo's, both
           with busy poll off (a spinning server's CPU per request includes its spins), is
           what calling Python costs (target at 16 pipelined: at most 1.5 us above).
pyclient   netcore.Client.request() round trips and pipeline(["os"] * 1000) against a plain
           stdlib socket client doing the same writes and readline()s (sendall, then
           makefile("rb").readline(); bytes, not decoded: the stricter peer), both against
           `netcore serve --service command`. The clients run on the generator's CPU.
           netcore.Client busy-polls 50 us for replies by default; the same client with
           busy_poll_us=0 is shown beside it.

With NETCORE_BASELINE=DIR (a copy of an older build's `netcore` package directory), both
sections add that build as one more peer in the same rounds ("netcore-hi-base",
"netcore-base"): before and after measured side by side, as the ratios are.

Everything else as engine_bench.py: servers pinned to every CPU but the last, the load on
the last, interleaved rounds with the starting peer rotating, medians, and each ratio the
median of the per-round ratios with their range in brackets.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent))
import engine_bench as eb  # noqa: E402

HERE = Path(__file__).resolve()
# (connections, requests in flight per connection)
SETTINGS: List[Tuple[int, int]] = [(1, 1), (1, 16), (1, 1000), (50, 1), (50, 16)]
TARGETS = {"asyncio-hi": 1.5, "uvloop-hi": 1.0}
# Python handler CPU per request above the built-in echo's, at 16 pipelined (µs).
CPU_ABOVE_ECHO_US = 1.5
PIPELINE = 1000
# The "netcore-hi-nopoll" peer turns busy poll off (docs/engine.md, "Busy poll").
NO_POLL = {"busy_poll_us": 0}
# An older build's package directory to measure beside this one (see the module docstring).
BASELINE = os.environ.get("NETCORE_BASELINE")


def hi(req: object) -> str:
    """The Python function every server of the pyhandler rows calls."""
    return "hello"


# --------------------------------------------------------------------------------------------
# Peers (`--peer NAME PORT`) and clients (`--client NAME PORT SECONDS`), run under .venv.
# --------------------------------------------------------------------------------------------

def peer_main(name: str, port: int) -> None:
    eb._raise_nofile()
    if name in ("netcore-hi", "netcore-hi-nopoll", "netcore-echo"):
        import netcore

        if name == "netcore-echo":
            # Busy poll off: the CPU floor. A spinning server's CPU per request includes its
            # spins, which measure idle time, not what a request costs.
            server = netcore.Server((eb.HOST, port), "echo", max_connections=20000, **NO_POLL)
        else:
            poll = NO_POLL if name == "netcore-hi-nopoll" else {}
            server = netcore.CommandServer((eb.HOST, port), max_connections=20000, **poll)
            server.command("hi")(hi)
        print("ready", flush=True)
        server.serve_forever()
        return

    import asyncio

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                line = await reader.readline()
                if not line:
                    break
                word = line.split(None, 1)[0] if line.strip() else b""
                reply = hi(line) if word == b"hi" else "welcome"
                writer.write(reply.encode() + b"\n")
                await writer.drain()
        except ConnectionError:
            pass
        writer.close()

    async def serve() -> None:
        srv = await asyncio.start_server(handle, eb.HOST, port, backlog=1024)
        print("ready", flush=True)
        async with srv:
            await srv.serve_forever()

    if name == "uvloop-hi":
        import uvloop

        uvloop.install()
    asyncio.run(serve())


def client_main(name: str, port: int, seconds: float) -> None:
    """Round trips for `seconds`, then pipelines of 1000 for `seconds`; prints JSON."""
    import resource

    def cpu() -> float:
        r = resource.getrusage(resource.RUSAGE_SELF)
        return r.ru_utime + r.ru_stime

    if name in ("netcore", "netcore-nopoll"):
        import netcore

        c = netcore.Client(eb.HOST, port, **(NO_POLL if name == "netcore-nopoll" else {}))
        request: Callable[[], object] = lambda: c.request("os")  # noqa: E731
        lines = ["os"] * PIPELINE
        pipeline: Callable[[], object] = lambda: c.pipeline(lines)  # noqa: E731
    else:
        import socket

        s = socket.create_connection((eb.HOST, port))
        f = s.makefile("rb")
        one, many = b"os\n", b"os\n" * PIPELINE

        def request() -> object:
            s.sendall(one)
            return f.readline()

        def pipeline() -> object:
            s.sendall(many)
            return [f.readline() for _ in range(PIPELINE)]

    assert request() in ("[posix]", b"[posix]\n"), request()
    out = {}
    for what, op in (("request", request), ("pipeline", pipeline)):
        for _ in range(20 if what == "request" else 2):  # warm-up
            op()
        n, c0, t0 = 0, cpu(), time.perf_counter()
        deadline = t0 + seconds
        while n < 1_000_000:
            op()
            n += 1
            if n % 16 == 0 and time.perf_counter() > deadline:
                break
        wall = time.perf_counter() - t0
        out[what] = {"per_s": n / wall, "cpu_us": (cpu() - c0) / n * 1e6, "n": n}
    print(json.dumps(out), flush=True)


# --------------------------------------------------------------------------------------------
# The two sections.
# --------------------------------------------------------------------------------------------

def own_peer(name: str) -> Callable[[int], List[str]]:
    return lambda port: [str(eb.VENV_PY), str(HERE), "--peer", name, str(port)]


def baseline_env() -> Dict[str, str]:
    """The environment that makes `import netcore` load the baseline build."""
    return {"PYTHONPATH": os.path.dirname(os.path.abspath(BASELINE))} if BASELINE else {}


def peers(pin: Optional[str]) -> Dict[str, eb.Peer]:
    pre = ["taskset", "-c", pin] if pin else []
    return {p.key: p for p in [
        eb.Peer("netcore-hi", "netcore.CommandServer + @command (Python hi)",
                lambda port: pre + own_peer("netcore-hi")(port), "hi", "hello"),
        eb.Peer("netcore-hi-nopoll", "the same with busy_poll_us=0 (off)",
                lambda port: pre + own_peer("netcore-hi-nopoll")(port), "hi", "hello"),
        eb.Peer("asyncio-hi", "asyncio streams, hi inline", lambda port: pre + own_peer("asyncio-hi")(port),
                "hi", "hello"),
        eb.Peer("uvloop-hi", "asyncio + uvloop, hi inline", lambda port: pre + own_peer("uvloop-hi")(port),
                "hi", "hello"),
        eb.Peer("netcore-echo", "netcore.Server, built-in echo (no Python), busy_poll_us=0",
                lambda port: pre + own_peer("netcore-echo")(port), "hi", "hi"),
        eb.Peer("netcore-hi-base", f"the same on the baseline build ({BASELINE})",
                lambda port: pre + own_peer("netcore-hi")(port), "hi", "hello", env=baseline_env()),
    ]}


def handler_peers() -> List[str]:
    return (["netcore-hi", "netcore-hi-nopoll", "asyncio-hi", "uvloop-hi", "netcore-echo"]
            + (["netcore-hi-base"] if BASELINE else []))


def run_pyhandler(start: Callable[[List[str]], List[eb.Peer]], runs: int, secs: float, retries: int,
                  gen_prefix: List[str]) -> Tuple[str, List[Tuple[str, bool]], Dict[str, object]]:
    """-> (markdown table, verdicts, figures)"""
    active = start(handler_peers())
    cells: Dict[Tuple[str, Tuple[int, int]], eb.Cell] = {(p.key, s): eb.Cell() for p in active for s in SETTINGS}
    for p in active:  # warm-up, not counted
        for conns, depth in SETTINGS:
            eb.bench_once(p, depth, min(0.5, secs), gen_prefix, conns)
    for i in range(runs):
        eb.log(f"  round {i + 1}/{runs}")
        for s in SETTINGS:
            order = active[i % len(active):] + active[:i % len(active)]
            for p in order:
                run = eb.measure(p, s[1], secs, retries, gen_prefix, s[0])
                cells[(p.key, s)].runs.append(run)
                eb.log(f"    {p.key:<13} {s[0]:>2}x{s[1]:<4} {run.rps:>12,.0f} req/s  p99 {run.p99:7.3f} ms  "
                       f"server {run.server_cores:.2f} cores {run.server_us:6.2f} us/req"
                       + (f"  errors {run.errors}" if run.errors else "")
                       + ("  *disturbed" if run.disturbed else ""))
    for p in active:
        p.stop()
    labels = peers(None)
    rows = ["| connections x pipelined | server | req/s (median) | p99 ms | server cores | server CPU µs/req "
            "| netcore / peer | target | met |", "|---|---|---|---|---|---|---|---|---|"]
    verdicts: List[Tuple[str, bool]] = []
    figures: Dict[str, object] = {}
    for s in SETTINGS:
        base = cells.get(("netcore-hi", s))
        for k in handler_peers():
            c = cells.get((k, s))
            setting = f"{s[0]} x {s[1]}"
            if c is None:
                rows.append(f"| {setting} | {labels[k].label} | skipped | | | | | | |")
                continue
            ratio, tgt, met = "", "", ""
            if (k in TARGETS or k == "netcore-hi-base") and base:
                x, lo, hi_ = base.ratio_to(c)
                ratio = f"{x:.2f}x ({lo:.2f}–{hi_:.2f})"
                if k in TARGETS:
                    ok = x >= TARGETS[k]
                    tgt, met = f">= {TARGETS[k]}x", "yes" if ok else "**no**"
                    verdicts.append((f"{setting}: Python hi netcore {x:.2f}x {k} (target >= {TARGETS[k]}x)", ok))
            if k == "netcore-hi-nopoll":  # shown beside the default, not a target
                parts = []
                for peer in TARGETS:
                    other = cells.get((peer, s))
                    if other is not None:
                        x, lo, hi_ = c.ratio_to(other)
                        parts.append(f"{x:.2f}x {peer.split('-')[0]} ({lo:.2f}–{hi_:.2f})")
                ratio = "; ".join(parts)
            unpolled = cells.get(("netcore-hi-nopoll", s))
            if k == "netcore-echo" and unpolled and s[1] == 16:
                # Both with busy poll off: what calling Python costs, without spin time.
                above = unpolled.med("server_us") - c.med("server_us")
                ok = above <= CPU_ABOVE_ECHO_US
                ratio = f"hi {above:+.2f} µs/req"
                tgt, met = f"<= +{CPU_ABOVE_ECHO_US} µs", "yes" if ok else "**no**"
                verdicts.append((f"{setting}: Python hi CPU {above:+.2f} us/req above built-in echo "
                                 f"(target <= {CPU_ABOVE_ECHO_US})", ok))
            flag = f" ({c.flagged} of {len(c.runs)} disturbed*)" if c.flagged else ""
            err = f" ({c.errors} errors)" if c.errors else ""
            rows.append(f"| {setting} | {labels[k].label} | {eb.fmt_rate(c.med('rps'))}{flag}{err} | "
                        f"{c.med('p99'):.3f} | {c.med('server_cores'):.2f} | {c.med('server_us'):.2f} | "
                        f"{ratio} | {tgt} | {met} |")
            figures[f"{s[0]}x{s[1]}/{k}"] = {"rps": c.med("rps"), "p99_ms": c.med("p99"),
                                             "server_us_per_request": c.med("server_us"),
                                             "runs": [r.__dict__ for r in c.runs]}
    return "\n".join(rows), verdicts, figures


def run_pyclient(start: Callable[[List[str]], List[eb.Peer]], runs: int, secs: float,
                 gen_prefix: List[str]) -> Tuple[str, List[Tuple[str, bool]], Dict[str, object]]:
    (server,) = start(["netcore"]) or (None,)
    if server is None:
        return "pyclient: skipped (netcore serve did not start)", [], {}
    names = ["netcore", "netcore-nopoll", "stdlib"] + (["netcore-base"] if BASELINE else [])
    got: Dict[str, List[dict]] = {name: [] for name in names}
    try:
        for i in range(runs):
            eb.log(f"  round {i + 1}/{runs}")
            for name in names[i % len(names):] + names[:i % len(names)]:
                eb.wait_quiet()
                env = {**os.environ, **(baseline_env() if name == "netcore-base" else {})}
                client = "netcore" if name == "netcore-base" else name
                out = subprocess.run(gen_prefix + [str(eb.VENV_PY), str(HERE), "--client", client,
                                                   str(server.port), str(secs)],
                                     capture_output=True, text=True, timeout=secs * 4 + 60, env=env)
                if out.returncode != 0:
                    raise RuntimeError(f"{name} client failed: {out.stderr[-400:]}")
                r = json.loads(out.stdout)
                got[name].append(r)
                eb.log(f"    {name:<8} request {r['request']['per_s']:>9,.0f}/s ({r['request']['cpu_us']:.1f} us CPU)"
                       f"  pipeline({PIPELINE}) {r['pipeline']['per_s']:>7,.1f}/s "
                       f"({r['pipeline']['cpu_us'] / 1000:.2f} ms CPU)")
    finally:
        server.stop()
    rows = ["| operation | client | per second (median) | ms each | client CPU µs each | netcore / stdlib "
            "| target | met |", "|---|---|---|---|---|---|---|---|"]
    verdicts: List[Tuple[str, bool]] = []
    for what, label in (("request", "request('os') round trip"), ("pipeline", f"pipeline(['os'] * {PIPELINE})")):
        pairs = [a[what]["per_s"] / b[what]["per_s"] for a, b in zip(got["netcore"], got["stdlib"])]
        x = statistics.median(pairs)
        ok = x >= 1.0
        verdicts.append((f"netcore.Client {what} {x:.2f}x stdlib socket (target >= 1.0x)", ok))
        shown = {"netcore": "netcore.Client", "netcore-nopoll": "netcore.Client, busy_poll_us=0 (off)",
                 "stdlib": "stdlib socket", "netcore-base": "netcore.Client, baseline"}
        for name in names:
            per_s = statistics.median(r[what]["per_s"] for r in got[name])
            cpu = statistics.median(r[what]["cpu_us"] for r in got[name])
            ratio = f"{x:.2f}x ({min(pairs):.2f}–{max(pairs):.2f})" if name == "stdlib" else ""
            if name == "netcore-base":
                base = [a[what]["per_s"] / b[what]["per_s"] for a, b in zip(got["netcore"], got[name])]
                ratio = f"{statistics.median(base):.2f}x ({min(base):.2f}–{max(base):.2f})"
            if name == "netcore-nopoll":  # against the stdlib, shown, not a target
                off = [a[what]["per_s"] / b[what]["per_s"] for a, b in zip(got[name], got["stdlib"])]
                ratio = f"{statistics.median(off):.2f}x stdlib ({min(off):.2f}–{max(off):.2f})"
            rows.append(f"| {label} | {shown[name]} | "
                        f"{per_s:,.1f} | {1000 / per_s:.3f} | {cpu:,.1f} | {ratio} | "
                        f"{'>= 1.0x' if name == 'stdlib' else ''} | {('yes' if ok else '**no**') if name == 'stdlib' else ''} |")
    return "\n".join(rows), verdicts, got


def main() -> int:
    if len(sys.argv) >= 4 and sys.argv[1] == "--peer":
        peer_main(sys.argv[2], int(sys.argv[3]))
        return 0
    if len(sys.argv) >= 5 and sys.argv[1] == "--client":
        client_main(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]))
        return 0
    return eb.main(["--only", "pyhandler", "--only", "pyclient", *sys.argv[1:]])


if __name__ == "__main__":
    sys.exit(main())
