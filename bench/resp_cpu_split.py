#!/usr/bin/env python3
"""Server CPU per request split into user and kernel time (/proc/PID/stat utime, stime):
`netcore serve --framing resp` against redis-server, PING at 50 x 16 and 50 x 1, loaded by
`netcore bench --resp`. Shows how much of a request is the kernel's (the same system calls
on both sides), which bounds any throughput ratio between the two.

    python3 bench/resp_cpu_split.py [ROUNDS [SECONDS]]     # default 3 rounds of 3 s

Servers on CPU 0, the load on CPU 1; interleaved rounds; medians."""
import os, sys, subprocess, time, json, statistics, socket
NETCORE = str(__import__("pathlib").Path(__file__).resolve().parents[1] / "target" / "release" / "netcore")
TICK = os.sysconf("SC_CLK_TCK")
def cpu(pid):
    with open(f"/proc/{pid}/stat") as stat:
        f = stat.read().rsplit(")", 1)[1].split()
    return int(f[11]) / TICK, int(f[12]) / TICK
def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0)); return s.getsockname()[1]
rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
seconds = sys.argv[2] if len(sys.argv) > 2 else "3"
pr, pn = free_port(), free_port()
procs = {
    "redis": subprocess.Popen(["taskset", "-c", "0", "redis-server", "--port", str(pr), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], stdout=subprocess.DEVNULL),
    "netcore": subprocess.Popen(["taskset", "-c", "0", NETCORE, "serve", "--framing", "resp", "--listen", f"127.0.0.1:{pn}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
}
ports = {"redis": pr, "netcore": pn}
time.sleep(1.5)
res = {}
try:
    for r in range(rounds):
        for p in (16, 1):
            for k in (("redis", "netcore") if r % 2 == 0 else ("netcore", "redis")):
                u0, s0 = cpu(procs[k].pid)
                out = subprocess.run(["taskset", "-c", "1", NETCORE, "bench", "127.0.0.1", str(ports[k]), "--resp", "-c", "50", "-P", str(p), "-d", seconds, "--request", "PING", "--expect", "PONG", "--json", "-q"], capture_output=True, text=True, check=True)
                j = json.loads(out.stdout); n = j["requests"]
                u1, s1 = cpu(procs[k].pid)
                res.setdefault((k, p), []).append((j["requests_per_sec"], (u1 - u0) / n * 1e6, (s1 - s0) / n * 1e6))
    print("| server | 50 x | req/s | user µs/req | kernel µs/req | total |")
    print("|---|---|---:|---:|---:|---:|")
    for (k, p), v in sorted(res.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        rps, u, s = (statistics.median(x[i] for x in v) for i in range(3))
        print(f"| {k} | {p} | {rps:,.0f} | {u:.3f} | {s:.3f} | {u+s:.3f} |")
finally:
    for p in procs.values():
        p.terminate(); p.wait(10)
