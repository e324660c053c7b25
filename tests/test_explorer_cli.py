"""`aurora-sw explore`: the Explorer started as a user would, wherever they are, serves this machine only."""

import os
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

from aurora_sw.explorer import explorer_command, is_loopback

REPO = Path(__file__).resolve().parent.parent


def explore(*args):
    return [sys.executable, "-m", "aurora_sw", "explore", *map(str, args)]


def this_checkout() -> dict:
    """The environment for a command started in another folder that still runs this checkout's code."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def listeners(port: int) -> set[str]:
    """Local addresses listening on ``port`` (Linux /proc/net/tcp and tcp6, hex as the kernel writes them)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.rsplit(":", 1)
            if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                found.add(address)
    return found


def test_a_missing_data_folder_is_one_line(tmp_path):
    res = subprocess.run(explore("--data", tmp_path / "nothing"), capture_output=True, text=True, timeout=60, cwd=tmp_path, env=this_checkout())
    assert res.returncode == 1
    assert res.stderr.strip().splitlines() == [f"aurora-sw: error: --data {tmp_path / 'nothing'}: no such folder; make one with `aurora-sw demo --quick --out {tmp_path / 'nothing'}`"]


def test_the_command_carries_the_safe_options(tmp_path):
    cmd = explorer_command(tmp_path, port=8600)
    opts = dict(zip(cmd[5:-3:2], cmd[6:-3:2]))
    assert cmd[1:4] == ["-m", "streamlit", "run"] and Path(cmd[4]) == REPO / "apps" / "explorer.py"
    assert opts == {"--server.address": "127.0.0.1", "--server.headless": "true", "--client.showErrorDetails": "none",
                    "--browser.gatherUsageStats": "false", "--server.port": "8600"}
    assert cmd[-3:] == ["--", "--data", str(tmp_path.resolve())]
    assert [is_loopback(a) for a in ("127.0.0.1", "127.3.2.1", "::1", "[::1]", "localhost", "", None, "0.0.0.0", "::", "10.1.2.3", "example.org")] == [
        True, True, True, True, True, False, False, False, False, False, False]


@contextmanager
def running_explorer(data, cwd):
    """``aurora-sw explore --data DATA`` started in ``cwd`` on a free port: yields (process, port)
    once /_stcore/health answers, and always stops it (terminate, then kill after 15 s)."""
    port = free_port()
    log = Path(cwd) / "explore.log"
    with log.open("w") as sink:
        proc = subprocess.Popen(explore("--data", data, "--port", port), cwd=cwd, env=this_checkout(), stdout=sink, stderr=subprocess.STDOUT)
    try:
        deadline, healthy = time.time() + 90, False
        while time.time() < deadline and proc.poll() is None and not healthy:
            try:
                healthy = urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2).read() == b"ok"
            except OSError:
                time.sleep(0.3)
        assert healthy, f"no health answer on 127.0.0.1:{port} in 90 s (exit {proc.poll()}): {log.read_text()[-2000:]}"
        yield proc, port
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="reads the listening sockets from Linux /proc")
def test_started_outside_the_repository_it_listens_on_loopback_only(tmp_path):
    with running_explorer(tmp_path, cwd=tmp_path) as (proc, port):  # an empty folder: no .streamlit/config.toml there
        assert listeners(port) == {"0100007F"}  # 127.0.0.1 only: not 0.0.0.0, not ::
        cmdline = Path(f"/proc/{proc.pid}/cmdline").read_bytes().split(b"\0")  # the same process: exec'd into Streamlit
        assert b"streamlit" in cmdline and cmdline[cmdline.index(b"--server.address") + 1] == b"127.0.0.1"
        assert cmdline[cmdline.index(b"--client.showErrorDetails") + 1] == b"none"
