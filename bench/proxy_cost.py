#!/usr/bin/env python3
"""What the PROXY protocol v2 header costs, with an A/A control (issue 16's "<= 2 % at 50 x 1").

    python3 bench/proxy_cost.py [ROUNDS [SECONDS]]      # default 5 rounds of 2 s

Two plain `netcore serve` processes (A, B) and one with `--proxy-protocol` (P), one worker
each, behind one HAProxy (TCP mode; `send-proxy-v2` to P only); `netcore bench` 50 x 1
through each frontend in interleaved rounds (the starting server rotating). Prints A/B (the
control: how far two identical servers differ in this setup), P/A and P/B as medians of
per-round ratios with their range, and each server's CPU per request (/proc/PID/stat).
Servers and HAProxy on CPU 0, the load on CPU 1. Uses deploy_bench.py's helpers."""
import os, sys, tempfile, shutil, statistics
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parent))
import deploy_bench as d

TICK = os.sysconf("SC_CLK_TCK")
def cpu(pid):
    with open(f"/proc/{pid}/stat") as stat:
        f = stat.read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / TICK

rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 2.0
procs = d.Procs()
tmp = Path(tempfile.mkdtemp())
pin_server, pin_gen = ["taskset", "-c", "0"], ["taskset", "-c", "1"]
try:
    ports = {k: d.free_port() for k in "APB"}
    pids = {}
    for k in "APB":
        extra = ["--proxy-protocol"] if k == "P" else []
        pids[k] = procs.start([*pin_server, str(d.NETCORE), "serve", "--listen", f"127.0.0.1:{ports[k]}", "--workers", "1", *extra]).pid
    for p in ports.values():
        d.wait_port(p)
    front = {k: d.free_port() for k in "APB"}
    d.haproxy(procs, pin_server, tmp, [(k, front[k], ports[k], " send-proxy-v2" if k == "P" else "") for k in "APB"])
    rps = {k: [] for k in "APB"}; us = {k: [] for k in "APB"}
    for r in range(rounds):
        order = "APB"[r % 3:] + "APB"[:r % 3]
        for k in order:
            c0 = cpu(pids[k])
            x = d.bench(pin_gen, front[k], 1, seconds, "ping", "pong", False)
            rps[k].append(x); us[k].append((cpu(pids[k]) - c0) / (x * seconds) * 1e6)
        print(f"round {r+1}: " + ", ".join(f"{k} {rps[k][-1]:,.0f} ({us[k][-1]:.1f} us)" for k in "APB"), flush=True)
    for a, b in (("A", "B"), ("P", "A"), ("P", "B")):
        ratios = [x / y for x, y in zip(rps[a], rps[b])]
        print(f"{a}/{b}: {statistics.median(ratios):.3f}x [{min(ratios):.2f}-{max(ratios):.2f}]  "
              f"server us/req {statistics.median(us[a]):.2f} vs {statistics.median(us[b]):.2f}")
finally:
    procs.stop_all()
    shutil.rmtree(tmp, ignore_errors=True)
