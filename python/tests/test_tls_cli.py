"""`netcore serve` with TLS (plain and TLS listeners side by side, SIGHUP reload) and
`netcore client|send --tls` against it; --insecure warns; bad files exit 2 naming the file."""

import re
import shutil
import signal

from contextlib import contextmanager

from test_server_cli import start, stop


@contextmanager
def serving(*args):
    """`netcore serve ARGS`: (process, start-up lines); killed at the end if still running."""
    p, lines = start(*args)
    try:
        yield p, lines
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def tls_ports(lines):
    return dict((kind, int(addr.rsplit(":", 1)[1])) for kind, addr in re.findall(r"on (tcp|tls) (\S+)", "".join(lines)))


def test_serve_tls_and_plain_side_by_side_with_sighup_reload(pki, tmp_path, run_cli):
    for name in ("pem", "key"):
        shutil.copy(pki / f"server.{name}", tmp_path / f"live.{name}")
    with serving(
        "--service", "echo", "--listen", "127.0.0.1:0", "--tls-listen", "127.0.0.1:0",
        "--tls-cert", str(tmp_path / "live.pem"), "--tls-key", str(tmp_path / "live.key"),
    ) as (p, lines):
        ports = tls_ports(lines)
        assert set(ports) == {"tcp", "tls"}
        ca = str(pki / "ca.pem")
        done = run_cli("send", "--tls", "--cafile", ca, "localhost", str(ports["tls"]), "over tls")
        assert done.returncode == 0 and done.stdout == "over tls\n", done.stderr
        done = run_cli("send", "127.0.0.1", str(ports["tcp"]), "plain")
        assert done.stdout == "plain\n"
        done = run_cli("send", "--tls", "--cafile", ca, "localhost", str(ports["tcp"]), "x")
        assert done.returncode == 1 and "TLS" in done.stderr
        # A bad key on SIGHUP: reported, the old certificate stays.
        (tmp_path / "live.key").write_text("broken")
        p.send_signal(signal.SIGHUP)
        assert "not reloaded" in p.stderr.readline()
        done = run_cli("send", "--tls", "--cafile", ca, "localhost", str(ports["tls"]), "same")
        assert done.stdout == "same\n", done.stderr
        for name in ("pem", "key"):
            shutil.copy(pki / f"other.{name}", tmp_path / f"live.{name}")
        p.send_signal(signal.SIGHUP)
        assert "re-read" in p.stderr.readline()
        done = run_cli("send", "--tls", "--cafile", ca, "localhost", str(ports["tls"]), "y")
        assert done.returncode == 1 and "Hostname mismatch" in done.stderr
        done = run_cli("send", "--tls", "--cafile", ca, "--server-name", "other.example", "127.0.0.1",
                       str(ports["tls"]), "renamed")
        assert done.stdout == "renamed\n", done.stderr
        done = run_cli("send", "--tls", "--insecure", "127.0.0.1", str(ports["tls"]), "anyway")
        assert done.stdout == "anyway\n" and "--insecure" in done.stderr
        stop(p, signal.SIGTERM)


def test_mutual_tls_from_the_command_line(pki, run_cli):
    with serving(
        "--service", "command", "--listen", "127.0.0.1:0", "--tls-cert", str(pki / "server.pem"),
        "--tls-key", str(pki / "server.key"), "--tls-client-ca", str(pki / "ca.pem"),
    ) as (p, lines):
        port = str(tls_ports(lines)["tls"])
        ca = str(pki / "ca.pem")
        done = run_cli("send", "--tls", "--cafile", ca, "--cert", str(pki / "client.pem"), "--key",
                       str(pki / "client.key"), "localhost", port, "os")
        assert done.returncode == 0 and done.stdout == "[posix]\n", done.stderr
        done = run_cli("send", "--tls", "--cafile", ca, "localhost", port, "os")
        assert done.returncode == 1 and "TLS" in done.stderr
        stop(p, signal.SIGTERM)


def test_bad_tls_files_exit_2_naming_the_file(pki, tmp_path, run_cli):
    missing = run_cli("serve", "--listen", "127.0.0.1:0", "--tls-cert", str(pki / "server.pem"),
                      "--tls-key", str(tmp_path / "nope.key"))
    assert missing.returncode == 2 and "nope.key" in missing.stderr
    alone = run_cli("serve", "--listen", "127.0.0.1:0", "--tls-cert", str(pki / "server.pem"))
    assert alone.returncode == 2 and "tls_cert needs tls_key" in alone.stderr
    usage = run_cli("send", "--cafile", str(pki / "ca.pem"), "localhost", "1", "x")
    assert usage.returncode == 2
    udp = run_cli("send", "--udp", "--tls", "localhost", "1", "x")
    assert udp.returncode == 2 and "UDP has no TLS" in udp.stderr
