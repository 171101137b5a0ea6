"""`cargo-ai-mcp sandbox`: the URL to paste printed once, and a port in use refused in one line of our own."""

from __future__ import annotations

import errno
import os
import re
import socket
import subprocess
import sys
import time


def sandbox_command(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "cargo_mcp.cli", "sandbox", *args],
        stderr=subprocess.PIPE,
        text=True,
        env=clean_env() | {"PYTHONUNBUFFERED": "1"},
    )


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("CARGO_")}


def test_the_sandbox_command_prints_the_url_once_in_the_form_to_paste() -> None:
    proc = sandbox_command("--port", "0")
    lines: list[str] = []
    try:  # the process stops however the start goes
        assert proc.stderr is not None
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and not (lines and lines[-1].startswith("Point")):
            line = proc.stderr.readline()
            assert line or proc.poll() is None, "".join(lines)
            lines.append(line)
    finally:
        proc.terminate()
        proc.wait(20)
    text = "".join(lines)
    paste = re.fullmatch(r"Point cargo-ai-mcp at it: CARGO_API_BASE_URL=(\S+) CARGO_API_TOKEN=(\S+) .*\n", lines[-1])
    assert paste, text
    url, token = paste.groups()
    assert text.count(url) == 1 and "/v1" not in text and "<" not in lines[-1], text
    assert f"token {token}" in text  # the first workspace's own token, ready to paste


def test_the_sandbox_command_on_a_busy_port_says_so_in_one_line() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = sandbox_command("--port", str(port))
        _, err = proc.communicate(timeout=120)
    assert proc.returncode == 2, err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].endswith(
        f"cargo-ai-mcp: configuration error: the sandbox port {port} is in use on 127.0.0.1; choose another --port "
        "(or 0 for any free port)."
    ), err


TRY_BUSY = """
import sys
from cargo_mcp.sandbox.server import Sandbox
sandbox = Sandbox()
try:
    sandbox.serve_in_thread(port=int(sys.argv[1]))
except OSError as e:
    print(e)
finally:
    sandbox.close()
"""


def test_a_sandbox_on_a_busy_port_raises_without_a_log_line() -> None:
    with socket.socket() as busy:  # the check before the build can be raced: serve_in_thread binds first itself
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = subprocess.run(
            [sys.executable, "-c", TRY_BUSY, str(port)], capture_output=True, text=True, timeout=180, env=clean_env()
        )
    assert proc.stdout.startswith(
        f"[Errno {errno.EADDRINUSE}] the sandbox cannot listen on 127.0.0.1:{port} (address already in use"
    )
    assert "ERROR" not in proc.stderr and "Traceback" not in proc.stderr, proc.stderr


def test_the_sandbox_listens_so_that_asyncio_turns_nagle_off_on_its_connections() -> None:
    """asyncio sets TCP_NODELAY only on sockets whose protocol is IPPROTO_TCP; a socket made with protocol 0
    (socket.create_server) left Nagle on, and every answer waited ~40 ms for a delayed ACK (python -m bench)."""
    from cargo_mcp.sandbox.server import _listen

    with _listen("127.0.0.1", 0) as listening, socket.create_connection(listening.getsockname()[:2]):
        accepted, _ = listening.accept()
        with accepted:
            assert accepted.proto == socket.IPPROTO_TCP
