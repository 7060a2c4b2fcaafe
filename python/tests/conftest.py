import os
import subprocess
import sys
from pathlib import Path

import pytest

from client_servers import start_line_server

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def run_cli():
    """Runs `python -m netcore ARGS` and returns the completed process."""

    def run(*args, env=None, timeout=60):
        full_env = dict(os.environ, **(env or {}))
        return subprocess.run(
            [sys.executable, "-m", "netcore", *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=full_env,
        )

    return run


@pytest.fixture
def line_port():
    """The port of a line server on 127.0.0.1 (client_servers.LineHandler: `got LINE`, `silent`, ...)."""
    port, stop = start_line_server()
    yield port
    stop()


@pytest.fixture(scope="session")
def pki(tmp_path_factory):
    """A test PKI made with the openssl command (scripts/make-test-certs): ca.pem, server.pem/.key
    (localhost, 127.0.0.1), expired.*, other.* (other.example), client.* (CN=alice), rogue-*."""
    path = tmp_path_factory.mktemp("pki")
    subprocess.run([str(ROOT / "scripts" / "make-test-certs"), str(path)], check=True)
    return path
