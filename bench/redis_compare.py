#!/usr/bin/env python3
"""Issue 5: `netcore bench` against `redis-benchmark` on the same redis-server.

    bench/compare_redis.sh                      # pinned, P1 and P16, both workloads, 3 rounds
    python3 bench/redis_compare.py --rounds 5 --no-pin --json figures.json

Both tools send the same command to one redis-server on 127.0.0.1 (started here, stopped by
its PID), 50 connections, a bounded number of requests per run, medians of interleaved
rounds (the tool that goes first alternates). Two workloads:

  EVAL   `EVAL "for i=1,10000 do end return 1" 0` -> `:1`. Server-bound: an empty Lua loop of
         10,000 steps costs redis ~40 us of CPU per request, 3-4x what redis-benchmark spends
         per request (~11 us) and ~5x netcore bench's, so with one core each the server is
         the limit and both tools should measure the same server. A Lua loop rather than a
         big reply (LRANGE, ...): its reply is one line `:1`, which netcore bench checks
         (--expect), and its cost is the server's CPU alone, not the kernel's copying.
         netcore bench sends it inline (redis splits the line with sdssplitargs, which takes
         the double-quoted script as one argument); redis-benchmark sends the same arguments
         as a RESP array. Parsing either costs redis well under 1 us, which the `redis us/req`
         column shows.
  EVAL, both at once (skip with --no-together): both tools run together, half the
         connections each, so they measure the same server at the same moments. Saturated
         redis answers in whole event-loop iterations (it runs every ready client, then
         writes all their replies), so a request's latency depends on which iteration it
         joins, that is on how soon after a reply its tool sends it. Run alone, each tool's
         timing shapes the iterations differently, which moves the p99s apart; at once, a
         difference left would be in the measuring.
  PING   inline PING -> +PONG (`-t ping_inline`; netcore bench with --crlf, byte for byte the
         same request). Redis needs ~6 us per PING, about netcore bench's cost and half of
         redis-benchmark's: whichever tool is at about one core measures itself.

Replies: netcore bench checks every one (--expect). redis-benchmark does not, so after each
run of either tool the script reads redis's INFO: the command's call count must have grown
by exactly the run's requests with no failed calls and no error replies; redis counting N
successful calls of a deterministic script is the check that N replies were `:1`.

CPU in cores (CPU seconds per wall second of the run): each tool's from wait4(2), redis's
from /proc/PID/stat. A tool at >= 0.8 cores is at its own limit and the verdict says
"tool-bound" instead of comparing: near a whole core its req/s is its own ceiling, and
already before that a busy tool holds some of the in-flight requests itself, so fewer wait
at the server and its latency reads low (PING P16: redis-benchmark at 0.85-0.93 cores gave
p50 0.33 ms against netcore bench's 0.43 ms at about the same req/s). Otherwise the tools
agree when req/s, p50 and p99 each differ by at most 10%; the verdict names any that do not.

Pinned (the default on 2+ cores): redis on CPU 0 (all but the last), the tools on the last
CPU, one at a time. A run during which other processes used > 0.25 cores is repeated once
and, if disturbed again, kept but left out of the medians unless all of that tool's runs in
the row were disturbed (the table says how many were left out or kept).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Dict, List, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent))
import engine_bench as eb  # noqa: E402

LUA_STEPS = 10_000
TOOL_BOUND = 0.8   # cores: a tool this busy queues requests itself (see the docstring)
AGREE = 0.10       # relative difference allowed between the tools


@dataclass(frozen=True)
class Workload:
    name: str
    inline: str               # what netcore bench sends (one line)
    rb_args: Tuple[str, ...]  # how redis-benchmark is told to send the same
    expect: str
    redis_cmd: str            # its name in INFO commandstats
    requests: Dict[int, int]  # per pipeline depth, sized for ~1-2 s runs on 2 cores
    together: bool            # also run both tools at once, half the connections each


SCRIPT = f"for i=1,{LUA_STEPS} do end return 1"
WORKLOADS = {
    "EVAL": Workload(f"EVAL loop {LUA_STEPS:,}", f'EVAL "{SCRIPT}" 0', ("EVAL", SCRIPT, "0"), ":1", "eval",
                     {1: 40_000, 16: 40_000}, together=True),
    "PING": Workload("PING inline", "PING", ("-t", "ping_inline"), "+PONG", "ping",
                     {1: 150_000, 16: 1_000_000}, together=False),
}


@dataclass
class Run:
    rps: float
    mean: float            # latency, ms
    p50: float
    p99: float
    tool_cores: float
    redis_cores: float
    redis_us: float        # redis CPU per request
    foreign_cores: float   # CPU of other processes during the run

    @property
    def disturbed(self) -> bool:
        return self.foreign_cores > eb.FOREIGN_LIMIT


def redis_info(port: int) -> Dict[str, str]:
    """INFO stats + commandstats as {field: value}."""
    with socket.create_connection((eb.HOST, port), timeout=5) as s:
        s.sendall(b"INFO stats commandstats\r\n")
        f = s.makefile("rb")
        size = int(f.readline()[1:])
        body = f.read(size + 2).decode()
    return dict(line.split(":", 1) for line in body.splitlines() if ":" in line)


def command_counts(port: int, cmd: str) -> Tuple[int, int, int]:
    """-> (calls of cmd, its failed calls, all error replies) so far."""
    info = redis_info(port)
    stats = dict(kv.split("=") for kv in info.get(f"cmdstat_{cmd}", "calls=0,failed_calls=0").split(","))
    return int(stats["calls"]), int(stats.get("failed_calls", 0)), int(info.get("total_error_replies", 0))


def timed(argvs: List[List[str]], redis_pid: int) -> Tuple[List[str], List[float], List[float], float, float]:
    """Runs the commands at once, each to its end (killed after 300 s). -> (their stdouts, their
    wall s, their CPU s, redis CPU s per wall s of all, other processes' CPU s per wall s)."""
    r0 = eb.cpu_ticks(redis_pid)
    b0, _ = eb.machine_busy()
    w0 = time.monotonic()
    outs = [tempfile.TemporaryFile("w+") for _ in argvs]
    errs = [tempfile.TemporaryFile("w+") for _ in argvs]
    procs = [subprocess.Popen(argv, stdout=o, stderr=e, stdin=subprocess.DEVNULL)
             for argv, o, e in zip(argvs, outs, errs)]
    walls, cpus = [0.0] * len(procs), [0.0] * len(procs)
    try:
        waiting = set(range(len(procs)))
        while waiting:
            if time.monotonic() - w0 > 300:
                for i in waiting:
                    procs[i].kill()
            for i in sorted(waiting):
                pid, status, ru = os.wait4(procs[i].pid, os.WNOHANG)  # wait4: the tool's own CPU time
                if pid:
                    procs[i].returncode = os.waitstatus_to_exitcode(status)
                    walls[i], cpus[i] = time.monotonic() - w0, ru.ru_utime + ru.ru_stime
                    waiting.discard(i)
            time.sleep(0.002)
        wall = time.monotonic() - w0
        b1, _ = eb.machine_busy()
        redis_s = (eb.cpu_ticks(redis_pid) - r0) / eb.TICK
        texts = []
        for argv, p, o, e in zip(argvs, procs, outs, errs):
            o.seek(0)
            e.seek(0)
            texts.append(o.read())
            if p.returncode != 0:
                raise RuntimeError(f"{argv} failed ({p.returncode}): {(e.read() or texts[-1])[-300:]}")
    finally:
        for f in outs + errs:
            f.close()
    others = max(0.0, (b1 - b0) / eb.TICK - redis_s - sum(cpus))
    return texts, walls, cpus, redis_s / wall, others / wall


def run_tools(tools: List[str], w: Workload, port: int, redis_pid: int, conns: int, pipeline: int,
              requests: int, prefix: List[str]) -> List[Run]:
    """Runs the tools at once (usually one), each with `conns` connections and `requests` requests."""
    argvs = []
    for tool in tools:
        if tool == "redis-benchmark":
            argvs.append(prefix + ["redis-benchmark", "-h", eb.HOST, "-p", str(port), "-c", str(conns), "-P",
                                   str(pipeline), "-n", str(requests), "--csv", *w.rb_args])
        else:
            argvs.append(prefix + [str(eb.NETCORE), "bench", eb.HOST, str(port), "--conns", str(conns), "--pipeline",
                                   str(pipeline), "--requests", str(requests), "--request", w.inline, "--expect",
                                   w.expect, "--crlf", "--json", "--quiet", "--timeout", "30"])
    total = requests * len(tools)
    calls0, failed0, errors0 = command_counts(port, w.redis_cmd)
    outs, walls, cpus, redis_cores, others = timed(argvs, redis_pid)
    calls1, failed1, errors1 = command_counts(port, w.redis_cmd)
    if (calls1 - calls0, failed1 - failed0, errors1 - errors0) != (total, 0, 0):
        raise RuntimeError(f"{' + '.join(tools)} {w.name} P{pipeline}: redis counted {calls1 - calls0} "
                           f"{w.redis_cmd} calls ({failed1 - failed0} failed, {errors1 - errors0} error replies), "
                           f"expected {total}")
    runs = []
    for tool, out, wall, cpu in zip(tools, outs, walls, cpus):
        if tool == "redis-benchmark":
            # "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms",...
            (row,) = [r for r in csv.reader(io.StringIO(out)) if r and r[0] != "test"]
            rps, mean, p50, p99 = float(row[1]), float(row[2]), float(row[4]), float(row[6])
        else:
            r = json.loads(out)
            rps, lat = r["requests_per_sec"], r["latency_ms"]
            mean, p50, p99 = lat["mean"], lat["p50"], lat["p99"]
        runs.append(Run(rps=rps, mean=mean, p50=p50, p99=p99, tool_cores=cpu / wall, redis_cores=redis_cores,
                        redis_us=redis_cores * max(walls) / total * 1e6, foreign_cores=others))
    return runs


TOOLS = ("redis-benchmark", "netcore bench")


@dataclass
class Row:
    workload: str
    pipeline: int
    pinning: str
    runs: Dict[str, List[Run]]

    def counted(self, tool: str) -> List[Run]:
        """The runs the medians use: the undisturbed ones, or all if every one was disturbed."""
        clean = [r for r in self.runs[tool] if not r.disturbed]
        return clean or self.runs[tool]

    def med(self, tool: str, attr: str) -> float:
        return statistics.median(getattr(r, attr) for r in self.counted(tool))

    def left_out(self) -> int:
        return sum(len(self.runs[t]) - len(self.counted(t)) for t in TOOLS)

    def kept_disturbed(self) -> int:
        return sum(r.disturbed for t in TOOLS for r in self.counted(t))

    def ratio(self, attr: str) -> float:
        """netcore bench / redis-benchmark."""
        return self.med("netcore bench", attr) / self.med("redis-benchmark", attr)

    def verdict(self) -> str:
        bound = [t for t in TOOLS if self.med(t, "tool_cores") >= TOOL_BOUND]
        if bound:
            return "tool-bound: " + " and ".join(f"{t} at {self.med(t, 'tool_cores'):.2f} cores" for t in bound)
        checked = ("req/s", "rps"), ("p50", "p50"), ("p99", "p99")
        agree = [what for what, attr in checked if abs(self.ratio(attr) - 1) <= AGREE]
        off = [f"{what} ({self.ratio(attr):.2f})" for what, attr in checked if abs(self.ratio(attr) - 1) > AGREE]
        if not off:
            return "agree within 10%"
        return (f"{', '.join(agree)} agree within 10%; " if agree else "") + f"{', '.join(off)} not"

    def summary(self) -> Dict[str, object]:
        out: Dict[str, object] = {"workload": self.workload, "pipeline": self.pipeline, "pinning": self.pinning,
                                  "verdict": self.verdict(), "ratio_rps": self.ratio("rps")}
        for t in TOOLS:
            out[t] = {a: self.med(t, a) for a in ("rps", "mean", "p50", "p99", "tool_cores", "redis_cores", "redis_us")}
            out[t]["runs"] = [{**asdict(r), "disturbed": r.disturbed} for r in self.runs[t]]
        return out


def table(rows: List[Row]) -> str:
    """Markdown: rb = redis-benchmark, nb = netcore bench; medians; the pinning column says how
    many runs were disturbed by other load and left out (or kept, when all of a tool's were)."""
    lines = ["| workload | P | pinning | req/s rb | req/s nb | nb / rb | p50 ms rb / nb | p99 ms rb / nb "
             "| tool cores rb / nb | redis cores rb / nb | redis µs/req rb / nb | verdict |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        def pair(attr: str, fmt: str) -> str:
            return " / ".join(format(r.med(t, attr), fmt) for t in TOOLS)
        notes = [f"{n} disturbed run(s) left out" for n in [r.left_out()] if n] + \
            [f"{n} disturbed run(s) kept" for n in [r.kept_disturbed()] if n]
        flag = f" ({'; '.join(notes)})" if notes else ""
        lines.append(f"| {r.workload} | {r.pipeline} | {r.pinning}{flag} | {r.med(TOOLS[0], 'rps'):,.0f} | "
                     f"{r.med(TOOLS[1], 'rps'):,.0f} | {r.ratio('rps'):.2f} | {pair('p50', '.3f')} | "
                     f"{pair('p99', '.3f')} | {pair('tool_cores', '.2f')} | {pair('redis_cores', '.2f')} | "
                     f"{pair('redis_us', '.1f')} | {r.verdict()} |")
    return "\n".join(lines)


def compare(workloads: List[str], pipelines: List[int], rounds: int, pin: bool, conns: int = eb.CONNS,
            scale: float = 1.0, together: bool = True, log=eb.log) -> List[Row]:
    """Starts redis-server, runs every (workload, pipeline) with each tool alone and, with
    `together`, EVAL with both at once, `rounds` times interleaved; stops redis.
    -> one Row per (workload, pipeline, alone or at once)."""
    if pin and (eb.NCPU < 2 or not shutil.which("taskset")):
        log("  pinning needs 2 cores and taskset: redis and the tools share the cores")
        pin = False
    srv_cpus, gen_cpu = (f"0-{eb.NCPU - 2}" if eb.NCPU > 2 else "0"), str(eb.NCPU - 1)
    pinning = f"redis CPU {srv_cpus}, tools CPU {gen_cpu}" if pin else "unpinned"
    prefix = ["taskset", "-c", gen_cpu] if pin else []
    tmp = Path(tempfile.mkdtemp(prefix="netcore-redis-compare-"))
    redis = eb.all_peers(srv_cpus if pin else None)["redis"]
    try:
        redis.start(tmp)
        version = subprocess.run(["redis-server", "--version"], capture_output=True, text=True).stdout.split()[2]
        log(f"  redis-server {version.removeprefix('v=')} on {eb.HOST}:{redis.port} (pid {redis.proc.pid}), "
            f"{conns} connections, {pinning}")
        for key in workloads:  # each workload's reply once, before counting (also compiles the script)
            w = WORKLOADS[key]
            got = subprocess.run([str(eb.NETCORE), "send", "--timeout", "5", eb.HOST, str(redis.port), w.inline],
                                 capture_output=True, text=True).stdout.strip()
            if got != w.expect:
                raise RuntimeError(f"redis answered {w.inline!r} with {got!r}, expected {w.expect!r}")
        # (workload, pipeline, both tools at once?) -> Row. At once, both tools meet the same
        # server at the same moments, so a difference left there is in how they measure.
        specs = [(k, d, False) for k in workloads for d in pipelines]
        specs += [(k, d, True) for k in workloads for d in pipelines if together and WORKLOADS[k].together]
        half = max(1, conns // 2)
        rows = {spec: Row(WORKLOADS[spec[0]].name + (f", both at once ({half} conns each)" if spec[2] else ""),
                          spec[1], pinning, {t: [] for t in TOOLS}) for spec in specs}
        total, done = rounds * len(rows) * 2, 0
        for i in range(rounds):
            order = TOOLS if i % 2 == 0 else TOOLS[::-1]
            for (k, d, at_once), row in rows.items():
                n = max(d, int(WORKLOADS[k].requests.get(d, 100_000) * scale / (2 if at_once else 1)) // d * d)
                for tools in ([list(TOOLS)] if at_once else [[t] for t in order]):
                    for attempt in range(2):  # a run disturbed by other load is repeated once
                        eb.wait_quiet()
                        runs = run_tools(tools, WORKLOADS[k], redis.port, redis.proc.pid, half if at_once else conns,
                                         d, n, prefix)
                        if not runs[0].disturbed:
                            break
                        log(f"    {' + '.join(tools)} {row.workload} P{d}: disturbed ({runs[0].foreign_cores:.2f} "
                            f"cores used by others), {'repeating' if attempt == 0 else 'kept'}")
                    for tool, run in zip(tools, runs):
                        row.runs[tool].append(run)
                        done += 1
                        log(f"  [{done}/{total}] round {i + 1} {row.workload} P{d} {tool:<15} {run.rps:>11,.0f} "
                            f"req/s  mean {run.mean:.3f} p50 {run.p50:.3f} p99 {run.p99:.3f} ms  tool "
                            f"{run.tool_cores:.2f} cores  redis {run.redis_cores:.2f} cores ({run.redis_us:.1f} µs/req)"
                            + (f"  *others {run.foreign_cores:.2f} cores" if run.disturbed else ""))
        return list(rows.values())
    finally:
        redis.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="\n\n".join(__doc__.split("\n\n")[1:]))
    ap.add_argument("--workloads", default="EVAL,PING", help="comma-separated: EVAL, PING (default both)")
    ap.add_argument("--pipelines", default="1,16", help="comma-separated pipeline depths (default 1,16)")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds; the table gives medians (default 3)")
    ap.add_argument("--conns", type=int, default=eb.CONNS, help="connections per tool (default 50)")
    ap.add_argument("--scale", type=float, default=1.0, help="multiply every run's request count")
    ap.add_argument("--no-pin", dest="pin", action="store_false", help="let redis and the tools share every core")
    ap.add_argument("--no-together", dest="together", action="store_false",
                    help="skip the EVAL rows with both tools at once, half the connections each")
    ap.add_argument("--json", metavar="FILE", help="also write the figures to FILE")
    args = ap.parse_args()
    workloads = [w.strip().upper() for w in args.workloads.split(",")]
    if any(w not in WORKLOADS for w in workloads):
        ap.error(f"--workloads: choose from {', '.join(WORKLOADS)}")
    tools = eb.ensure_apt({"redis-server": "redis-server", "redis-benchmark": "redis-tools"})
    if not all(tools.values()):
        eb.log("redis-server and redis-benchmark are needed")
        return 1
    t0 = time.monotonic()
    eb.log(f"netcore bench vs redis-benchmark: {', '.join(workloads)} at pipeline {args.pipelines}, "
           f"{args.rounds} interleaved rounds")
    rows = compare(workloads, [int(d) for d in args.pipelines.split(",")], args.rounds, args.pin, args.conns,
                   args.scale, args.together)
    eb.log(f"\nmedians of {args.rounds} rounds ({time.monotonic() - t0:.0f} s); rb = redis-benchmark, "
           f"nb = netcore bench; P = requests in flight per connection; tool-bound = at >= {TOOL_BOUND} cores, "
           "its figure is its own limit\n")
    eb.log(table(rows))
    if args.json:
        Path(args.json).write_text(json.dumps([r.summary() for r in rows], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
