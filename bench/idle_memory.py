"""Server memory (RSS) per idle connection: starts one server, opens N idle loopback
connections, and reports the RSS growth per connection. The measurement is
bench/engine_bench.py's `idle` section (which compares netcore with asyncio); this runs it
for one server alone.

    python3 bench/idle_memory.py [N] [netcore|floor|asyncio]

Needs `ulimit -Hn` above N + 100 (the soft limit is raised here).
"""
import resource
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import engine_bench  # noqa: E402

PEERS = {"netcore": "netcore-greet", "floor": "floor", "asyncio": "asyncio-greet"}


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10000
    which = sys.argv[2] if len(sys.argv) > 2 else "netcore"
    if which not in PEERS:
        sys.exit(f"usage: idle_memory.py [N] [{'|'.join(PEERS)}]")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard < n + 100:
        sys.exit(f"the open-file limit ({hard}) is below {n + 100}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    peer = engine_bench.all_peers(None)[PEERS[which]]
    with tempfile.TemporaryDirectory() as tmp:
        peer.start(Path(tmp))
        try:
            before, after, each = engine_bench.idle_rss(peer, n)
        finally:
            peer.stop()
    print(f"{which}: {n} idle connections, RSS {before} KiB -> {after} KiB: {each:.0f} bytes per connection")


if __name__ == "__main__":
    main()
