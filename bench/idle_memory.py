"""Server memory (RSS) per idle connection: starts `netcore serve` (or the floor server),
opens N idle loopback connections, and reports the RSS growth per connection.

    python3 bench/idle_memory.py [N] [netcore|floor]

Needs `ulimit -n` above N + 100 (raise it with `ulimit -n 20000` first).
"""
import re
import resource
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10000
    which = sys.argv[2] if len(sys.argv) > 2 else "netcore"
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < n + 100:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, n + 100), hard))
    if which == "floor":
        p = subprocess.Popen([str(ROOT / "target/release/examples/floor")], stdout=subprocess.PIPE, text=True)
        host, port = p.stdout.readline().strip().rsplit(":", 1)
    else:
        p = subprocess.Popen(
            [str(ROOT / "target/release/netcore"), "serve", "--listen", "127.0.0.1:0", "--max-conns", str(n + 10)],
            stderr=subprocess.PIPE,
            text=True,
        )
        host, port = re.search(r"tcp (\S+):(\d+)", p.stderr.readline()).groups()

    def rss_kib() -> int:
        with open(f"/proc/{p.pid}/status") as f:
            return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))

    socks = []
    try:
        time.sleep(0.3)
        before = rss_kib()
        for _ in range(n):
            socks.append(socket.create_connection((host, int(port)), timeout=20))
        last = socks[-1]
        last.sendall(b"os\n")
        last.recv(100)  # every connection before it has been accepted
        time.sleep(1)
        after = rss_kib()
        print(f"{which}: {n} idle connections, RSS {before} KiB -> {after} KiB: "
              f"{(after - before) * 1024 / n:.0f} bytes per connection")
    finally:
        for s in socks:
            s.close()
        p.terminate()
        p.wait(timeout=20)


if __name__ == "__main__":
    main()
