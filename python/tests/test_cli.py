"""The `netcore` command line as reached through `python -m netcore`."""

import socket


def test_port_by_name_and_number(run_cli):
    out = run_cli("port", "http", "tcp")
    assert (out.returncode, out.stdout.strip()) == (0, "80")
    out = run_cli("port", "25")
    assert (out.returncode, out.stdout.strip()) == (0, "smtp")


def test_port_unknown_is_a_one_line_error(run_cli):
    out = run_cli("port", "no-such-service")
    assert out.returncode == 1
    assert out.stderr.strip() == "netcore: service no-such-service: service/proto not found"
    out = run_cli("port", "70000")
    assert out.returncode == 2
    assert "port must be 0-65535" in out.stderr


def test_resolve_localhost(run_cli):
    out = run_cli("resolve", "localhost", "--family", "4")
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[0] == "localhost"
    assert "127.0.0.1" in out.stdout


def test_resolve_unknown_host_fails_cleanly(run_cli):
    out = run_cli("resolve", "no-such-host.invalid")
    assert out.returncode == 1
    assert out.stderr.startswith("netcore: cannot resolve no-such-host.invalid: [Errno")
    assert len(out.stderr.strip().splitlines()) == 1


def test_usage_errors_exit_2_and_help_has_examples(run_cli):
    assert run_cli("no-such-command").returncode == 2
    assert run_cli("resolve").returncode == 2
    help_ = run_cli("resolve", "--help")
    assert help_.returncode == 0
    assert "Examples:" in help_.stdout
    assert "Examples:" in run_cli("port", "--help").stdout
    assert socket.gethostname()  # the machine has a name for the resolver tests
