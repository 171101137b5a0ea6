"""`uv run python -m bench [--quick] [--only THEME ...]`: start what is needed (the sandbox, servers over stdio
and HTTP, all on loopback), measure every theme and rewrite docs/benchmarks.md (a full run; `--quick` prints
unless given `--out`). Every process and temporary folder is removed at the end."""

from __future__ import annotations

import argparse
import logging
import sys
import time
import traceback
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import anyio

from bench import journeys, per_call, scale, size, startup
from bench.context import Run
from bench.machine import Load, duration, machine_line
from bench.report import DOC, Section, header_of, render_section, write_doc

THEMES: dict[str, tuple[str, Callable[[Run], Awaitable[Section]]]] = {
    "per-call": ("Per call", per_call.measure),
    "journeys": ("Journeys", journeys.measure),
    "start-up": ("Start-up", startup.measure),
    "size": ("Size", size.measure),
    "scale": ("Scale", scale.measure),
}

HEADER = """# Benchmarks

Every figure here comes from one command, run from a checkout (Node 20+ on PATH for the CLI-pattern baseline;
the client packages are installed from npm into the test cache on first use):

```
uv run python -m bench                 # every theme; rewrites this file
uv run python -m bench --quick         # few rounds, no 10× sandbox and no install sizes; prints only
uv run python -m bench --only scale    # one theme (per-call, journeys, start-up, size, scale); rewrites its section
```

It starts what it needs on loopback (the sandbox in its own process, cargo-mcp over stdio and streamable HTTP),
stops every process it started and removes its temporary folders. Ratios come from interleaved runs in one
process (each round runs every variant once, in the same order), never from separate runs. Each table gives
the figure, its baseline, the ratio, the target and whether it is met; a target not met is followed by where
the time or memory goes.
"""


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument("--quick", action="store_true", help="few rounds; skip the 10× sandbox and install sizes")
    p.add_argument("--only", action="append", choices=list(THEMES), metavar="THEME", help=", ".join(THEMES))
    p.add_argument("--out", type=Path, help=f"the document to write (default: {DOC.name} unless --quick)")
    return p.parse_args(argv)


async def run_themes(names: list[str], run: Run) -> tuple[list[str], bool]:
    rendered, ok = [], True
    for name in names:
        print(f"bench: {name} …", file=sys.stderr, flush=True)
        title, measure = THEMES[name]
        with Load() as load:
            try:
                section = await measure(run)
            except Exception as e:
                ok = False
                traceback.print_exc()
                section = Section(title, notes=[f"Not measured: the run failed ({type(e).__name__}: {e})."])
        section.stamp = (
            f"_Measured {load.date:%Y-%m-%d %H:%M} UTC in {duration(load.seconds)}; {load.text()} on "
            f"{machine_line()}._"
        )
        text = render_section(section)
        print(text, flush=True)
        rendered.append(text)
    return rendered, ok


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    for name in ("httpx", "httpx2"):  # the in-process servers' clients log every request at INFO
        logging.getLogger(name).setLevel(logging.WARNING)
    names = args.only or list(THEMES)
    out = args.out or (None if args.quick else DOC)
    started = time.monotonic()
    with Load() as load, Run(quick=args.quick) as run:
        sections, ok = anyio.run(run_themes, names, run)
    took = time.monotonic() - started
    print(f"bench: {len(names)} theme(s) in {duration(took)}; {load.text()}", file=sys.stderr)
    if out is not None:
        if args.only or args.quick:
            header = header_of(out.read_text()) if out.exists() else HEADER
        else:
            header = HEADER + (
                f"\nLast full run: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, **{duration(took)}** in all, "
                f"{load.text()} on {machine_line()}.\n"
            )
        write_doc(header, sections, out, keep_others=bool(args.only))  # a full run rewrites the whole document
        print(f"bench: wrote {out}", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
