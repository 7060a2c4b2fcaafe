"""Runs the tutorial programs (examples/tutorials) as netcore programs or, with the one-line
import swapped back to the stdlib `socket` module, exactly as the seeds wrote them."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TUTORIALS = ROOT / "examples" / "tutorials"
STDLIB_SHIM = (
    "import runpy, socket, sys; sys.modules['netcore'] = socket; "
    "prog = sys.argv[1]; sys.argv = sys.argv[1:]; runpy.run_path(prog, run_name='__main__')"
)


def command(program, args, flavour):
    """The argv that runs `program` (relative to examples/tutorials) on netcore or the stdlib."""
    path = str(TUTORIALS / program)
    if flavour == "stdlib":
        return [sys.executable, "-u", "-c", STDLIB_SHIM, path, *map(str, args)]
    return [sys.executable, "-u", path, *map(str, args)]
