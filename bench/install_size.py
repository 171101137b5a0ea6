"""Install size: the wheel built from this checkout in fresh venvs, lean and with the `sandbox` extra.

Installed = bytes of the venv's files; downloaded = the sizes uv.lock records for the wheels this platform
takes. Target (issue 13): the lean install ≤ 100 MB. Run: `uv run python bench/install_size.py`.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

from packaging.tags import sys_tags
from packaging.utils import canonicalize_name, parse_wheel_filename

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import write_section

ROOT = Path(__file__).resolve().parent.parent
MB = 1_000_000


def uv(*args: str) -> str:
    exe = shutil.which("uv")
    assert exe, "uv must be on PATH"
    return subprocess.run([exe, *args], check=True, capture_output=True, text=True).stdout


def wheel_sizes() -> dict[tuple[str, str], int]:
    """(name, version) → size of the lock's wheel that best matches this interpreter."""
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    rank = {tag: i for i, tag in enumerate(sys_tags())}
    sizes = {}
    for package in lock["package"]:
        best: tuple[int, int] | None = None
        for w in package.get("wheels", []):
            _, _, _, tags = parse_wheel_filename(w["url"].rsplit("/", 1)[1])
            score = min((rank[t] for t in tags if t in rank), default=None)
            if score is not None and (best is None or score < best[0]):
                best = (score, w["size"])
        if best:
            sizes[(canonicalize_name(package["name"]), package["version"])] = best[1]
    return sizes


def measure(wheel: Path, extra: str, into: Path) -> tuple[int, float, float]:
    venv = into / ("venv" + extra)
    uv("venv", "--quiet", "--python", sys.executable, str(venv))
    python = venv / "bin" / "python"
    uv("pip", "install", "--quiet", "--compile-bytecode", "--python", str(python), f"{wheel}{extra}")
    listed = json.loads(uv("pip", "list", "--python", str(python), "--format", "json"))
    sizes = wheel_sizes()
    downloaded = sum(sizes.get((canonicalize_name(p["name"]), p["version"]), 0) for p in listed)
    installed = sum(f.lstat().st_size for f in venv.rglob("*") if f.is_file() and not f.is_symlink())
    return len(listed), installed / MB, downloaded / MB


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        uv("build", "--wheel", "--quiet", "--out-dir", str(out), str(ROOT))
        (wheel,) = out.glob("*.whl")
        lean = measure(wheel, "", out)
        full = measure(wheel, "[sandbox]", out)
    rows = [
        f"| `cargo-ai-mcp` (lean: the real Cargo API) | {lean[0]} | {lean[1]:.0f} MB | {lean[2]:.0f} MB | ≤ 100 MB |",
        f"| `cargo-ai-mcp[sandbox]` | {full[0]} | {full[1]:.0f} MB | {full[2]:.0f} MB | — |",
    ]
    body = "\n".join(
        [
            "The wheel built from this checkout installed with uv into a fresh venv (no dev dependencies, bytecode "
            "compiled as the first run would). Installed = the venv's files; downloaded = the wheel sizes uv.lock "
            "records for this platform.",
            "",
            "| Install | Packages | Installed | Downloaded | Target (installed) |",
            "|---|---:|---:|---:|---|",
            *rows,
        ]
    )
    write_section("Install size", body)
    print(body)


if __name__ == "__main__":
    main()
