"""Size: the tools/list result (all of it, and the part a model reads), and the install: the wheel built from
this checkout installed with uv into fresh venvs, lean and with the sandbox extra (installed bytes, and the
download: the wheel sizes uv.lock records for this platform)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tomllib
from collections import defaultdict
from pathlib import Path

from mcp import Client
from packaging.tags import sys_tags
from packaging.utils import canonicalize_name, parse_wheel_filename

from bench.context import Run
from bench.profile import top
from bench.report import Row, Section, Target
from cargo_mcp.server.app import build_server
from cargo_mcp.server.manual import READ_BUDGET, TOTAL_BUDGET, size, sizes
from cargo_mcp.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
MB = 1_000_000
LEAN_TARGET_MB = 100
# The manual before issue 14 (descriptions and pydantic's schemas as generated, 12 tools): bytes in all, read.
BEFORE_TOTAL, BEFORE_READ = 47_494, 19_071


def uv(*args: str) -> str:
    exe = shutil.which("uv")
    if exe is None:
        raise RuntimeError("uv must be on PATH to measure the install size")
    return subprocess.run([exe, *args], check=True, capture_output=True, text=True, timeout=900).stdout


def wheel_sizes() -> dict[tuple[str, str], int]:
    """(name, version) → size of the lock's wheel that best matches this interpreter."""
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    rank = {tag: i for i, tag in enumerate(sys_tags())}
    out: dict[tuple[str, str], int] = {}
    for package in lock["package"]:
        best: tuple[int, int] | None = None
        for w in package.get("wheels", []):
            _, _, _, tags = parse_wheel_filename(w["url"].rsplit("/", 1)[1])
            score = min((rank[t] for t in tags if t in rank), default=None)
            if score is not None and (best is None or score < best[0]):
                best = (score, w["size"])
        if best:
            out[(canonicalize_name(package["name"]), package["version"])] = best[1]
    return out


def install(wheel: Path, extra: str, into: Path) -> tuple[int, float, float, dict[str, float]]:
    """Packages, installed MB, downloaded MB, and MB per top-level folder of site-packages."""
    venv = into / ("venv" + extra)
    uv("venv", "--quiet", "--python", sys.executable, str(venv))
    python = venv / "bin" / "python"
    uv("pip", "install", "--quiet", "--compile-bytecode", "--python", str(python), f"{wheel}{extra}")
    listed = json.loads(uv("pip", "list", "--python", str(python), "--format", "json"))
    sizes_ = wheel_sizes()
    downloaded = sum(sizes_.get((canonicalize_name(p["name"]), p["version"]), 0) for p in listed)
    files = [f for f in venv.rglob("*") if f.is_file() and not f.is_symlink()]
    per: dict[str, float] = defaultdict(float)
    for f in files:
        parts = f.relative_to(venv).parts
        top = parts[parts.index("site-packages") + 1] if "site-packages" in parts[:-1] else parts[0]
        per[top.split("-")[0]] += f.lstat().st_size / MB
    return len(listed), sum(f.lstat().st_size for f in files) / MB, downloaded / MB, per


async def measure(run: Run) -> Section:
    async with Client(build_server(Settings())) as client:
        listed = (await client.list_tools()).model_dump(mode="json", by_alias=True, exclude_none=True)
    per_tool = sizes(listed)
    total, read = size(listed), sum(r for _, r in per_tool.values())
    largest = ", ".join(f"`{n}` {b:,} B" for n, (b, _) in sorted(per_tool.items(), key=lambda kv: -kv[1][0])[:4])
    why_list = f"the largest tools: {largest}."
    rows = [
        Row("`tools/list` result, all of it", total, "B", BEFORE_TOTAL, "before issue 14", Target("<=", TOTAL_BUDGET),
            note=f"{len(per_tool)} tools", why=why_list),
        Row("`tools/list`: descriptions + input schemas (what a model reads)", read, "B", BEFORE_READ,
            "before issue 14", Target("<=", READ_BUDGET), why=why_list),
    ]  # fmt: skip
    notes = ["| Tool | Bytes | Read |", "|---|---:|---:|"]
    notes += [f"| `{name}` | {b:,} | {r:,} |" for name, (b, r) in sorted(per_tool.items())]
    if run.quick:
        notes += ["", "Install sizes: not measured in a quick run."]
    else:
        out = run.tmp / "install"
        out.mkdir()
        uv("build", "--wheel", "--quiet", "--out-dir", str(out), str(ROOT))
        (wheel,) = out.glob("*.whl")
        lean, full = install(wheel, "", out), install(wheel, "[sandbox]", out)
        heavy = ", ".join(f"{k} {v:.0f} MB" for k, v in top(lean[3], 5))
        rows += [
            Row("lean install (the real Cargo API), installed", lean[1], "MB", full[1], "with the sandbox extra",
                Target("<=", LEAN_TARGET_MB), note=f"{lean[0]} packages", why=f"the largest folders: {heavy}."),
            Row("lean install, downloaded", lean[2], "MB", full[2], "with the sandbox extra"),
            Row("with the sandbox extra, installed", full[1], "MB", note=f"{full[0]} packages"),
        ]  # fmt: skip
        notes += [
            "",
            "Installs: the wheel built from this checkout, with uv into fresh venvs (no dev dependencies, bytecode "
            "compiled as a first run would). Installed = the venv's files; downloaded = the wheel sizes uv.lock "
            f"records for this platform. The lean install's largest folders: {heavy}.",
        ]
    return Section(
        "Size",
        rows,
        intro=(
            "Bytes of the `tools/list` result as sent (compact UTF-8 JSON), and of the part a model reads: each "
            "tool's description and input schema (budgets also tested by tests/test_manual.py)."
        ),
        notes=notes,
    )
