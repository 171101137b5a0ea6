"""The machine a run measures on: CPU model and count, and the load average sampled during the run."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

SAMPLE_SECONDS = 5.0


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def node_version() -> str:
    node = shutil.which("node")
    if node is None:
        return "no Node"
    return "Node " + subprocess.run([node, "--version"], capture_output=True, text=True, timeout=30).stdout.strip()


class Load:
    """Samples the 1-minute load average every few seconds on a daemon thread while in use."""

    def __init__(self) -> None:
        self.samples: list[float] = []
        self.started = time.monotonic()
        self.date = datetime.now(UTC)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Load:
        self.samples.append(os.getloadavg()[0])
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(SAMPLE_SECONDS + 1)
        self.samples.append(os.getloadavg()[0])
        self.seconds = time.monotonic() - self.started

    def _run(self) -> None:
        while not self._stop.wait(SAMPLE_SECONDS):
            self.samples.append(os.getloadavg()[0])

    def text(self) -> str:
        s = self.samples
        return f"load average {min(s):.1f} to {max(s):.1f} (mean {sum(s) / len(s):.1f})"


def duration(seconds: float) -> str:
    m, s = divmod(round(seconds), 60)
    return f"{m} min {s:02d} s" if m else f"{s} s"


def machine_line() -> str:
    return (
        f"{os.cpu_count()} × {cpu_model()}, {platform.system()} {platform.machine()}, "
        f"Python {platform.python_version()}, {node_version()}"
    )
