"""The test command names what is missing before it builds anything (`scripts/test
--prerequisites` runs only that check)."""

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def path_without(tmp_path, hidden):
    """A PATH with every command of the current one except `hidden` (symlinks in one dir)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for d in os.environ["PATH"].split(os.pathsep):
        if not os.path.isdir(d):
            continue
        for name in os.listdir(d):
            target = os.path.join(d, name)
            if name not in hidden and not (bin_dir / name).exists() and os.access(target, os.X_OK):
                (bin_dir / name).symlink_to(target)
    return str(bin_dir)


def check(path):
    return subprocess.run(["bash", str(ROOT / "scripts/test"), "--prerequisites"], capture_output=True,
                          text=True, timeout=60, env=dict(os.environ, PATH=path))


def test_everything_present_is_said_in_one_line():
    out = check(os.environ["PATH"])
    assert out.returncode == 0, out.stderr
    assert "all present: cargo, python3 (venv, pip), gcc, make, pkg-config, valgrind, telnet" in out.stdout


def test_missing_tools_are_named_and_nothing_is_built(tmp_path):
    out = check(path_without(tmp_path, {"make", "pkg-config", "cargo"}))
    assert out.returncode == 1
    assert "missing, so nothing was built" in out.stderr
    for name in ("cargo (Rust", "make (Debian: make)", "pkg-config (Debian: pkg-config)"):
        assert name in out.stderr, out.stderr
    assert "gcc" not in out.stderr
    assert "==> Rust" not in out.stdout and "==> Python tools" not in out.stdout


def test_python_without_venv_is_named(tmp_path):
    # A python3 whose `import venv` fails, as on Debian without python3-venv.
    fake = tmp_path / "fake"
    fake.mkdir()
    (fake / "python3").write_text("#!/bin/sh\nexit 1\n")
    (fake / "python3").chmod(0o755)
    out = check(str(fake) + os.pathsep + os.environ["PATH"])
    assert out.returncode == 1
    assert "python3's venv and pip modules (Debian: python3-venv)" in out.stderr
