"""`cargo-ai-mcp doctor`: check the setup ``serve`` would use, one piece at a time, with the next step for each.

Checks: mistyped variable names, the backend (Cargo, or the sandbox and whether it is installed), the base
URL (does it answer like Cargo?), the token (the workspace it opens), the SQL endpoint (a guarded
SELECT), the export and results folders. Never prints the token. Exit code 0 when nothing failed.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TextIO

import anyio

from cargo_mcp.api.client import CargoClient
from cargo_mcp.api.errors import TOKEN_SOURCE, CargoError
from cargo_mcp.api.probe import PROBE_RETRY, PROBE_TIMEOUT, Probe, probe
from cargo_mcp.console import COMMAND
from cargo_mcp.extras import sandbox_install, sandbox_missing
from cargo_mcp.guard.sql import check as guard_check
from cargo_mcp.http_settings import HTTP_VARIABLES
from cargo_mcp.settings import UNFILLED, ConfigError, Settings, folder_problem, misspelled_variables

SQL_PROBE = "SELECT count() AS batches FROM batches"
TOKEN_HINT = f"set CARGO_API_TOKEN to a workspace API token ({TOKEN_SOURCE})"


@dataclass(frozen=True)
class Check:
    name: str
    verdict: Literal["ok", "warn", "FAIL"]
    detail: str
    next_step: str = ""


def run_doctor(env: Mapping[str, str] | None = None, out: TextIO = sys.stdout) -> int:
    """Print every check's verdict; return 0 when none failed, 1 otherwise."""
    checks = anyio.run(_checks, dict(os.environ if env is None else env))
    print(f"{COMMAND} doctor: the setup `{COMMAND} serve` would use", file=out)
    for c in checks:
        print(f"{c.verdict:<5} {c.name:<15} {c.detail}", file=out)
        if c.next_step:
            print(f"{'':<5} {'':<15} next: {_step(c.next_step)}", file=out)
    failed = sum(c.verdict == "FAIL" for c in checks)
    warned = sum(c.verdict == "warn" for c in checks)
    if failed:
        print(f"{failed} of {len(checks)} checks failed.", file=out)
    else:
        print(f"All {len(checks)} checks passed" + (f" ({warned} with a warning)." if warned else "."), file=out)
    return 1 if failed else 0


def _step(text: str) -> str:
    """A next step continues the line "next: …": a sentence's capital and full stop go (not a name's capital)."""
    text = text.strip().removesuffix(".")
    first = text.split(" ", 1)[0]
    return text[0].lower() + text[1:] if first[:1].isupper() and first[1:].islower() else text


async def _checks(env: dict[str, str]) -> list[Check]:
    checks = [_variables(env)]
    folders = [
        _folder(env.pop("CARGO_MCP_EXPORT_DIR", ""), "CARGO_MCP_EXPORT_DIR", "export folder", create=False),
        _folder(env.pop("CARGO_MCP_RESULTS_DIR", ""), "CARGO_MCP_RESULTS_DIR", "results folder", create=True),
    ]  # reported on their own lines (checked without creating anything): the other checks go on without them
    try:
        settings = Settings.from_env(env)
    except ConfigError as e:
        checks.append(Check("configuration", "FAIL", str(e), "fix that variable; serve exits with code 2 until then"))
        return checks + folders
    if settings.sandbox:
        checks += _sandbox(settings)
    else:
        checks += await _cargo(settings)
    return checks + folders


def _variables(env: Mapping[str, str]) -> Check:
    warnings = misspelled_variables(env, also_known=HTTP_VARIABLES)
    if not warnings:
        return Check("variables", "ok", "no mistyped CARGO_* variable")
    return Check("variables", "warn", " ".join(warnings), f"rename the variable(s); {COMMAND} ignores them")


def _folder(raw: str, variable: str, name: str, *, create: bool) -> Check:
    if not (raw := raw.strip()) or UNFILLED.fullmatch(raw):
        unset = {
            "export folder": "not set: save_result writes only into folders the client shares (its roots)",
            "results folder": "not set: a private temporary folder, removed when the server stops",
        }[name]
        return Check(name, "ok", unset)
    path = Path(raw).expanduser().resolve()
    problem = folder_problem(path, create=create)
    if problem:
        return Check(name, "FAIL", f"{variable} {problem.what}", f"{problem.fix} (or unset {variable})")
    if not path.exists():
        return Check(name, "ok", f"{path} does not exist yet: serve creates it (its parent folder is writable)")
    return Check(name, "ok", f"{path} (writable)")


def _sandbox(settings: Settings) -> list[Check]:
    token = Check(
        "token",
        "warn",
        "CARGO_API_TOKEN is not set: serve uses the embedded sandbox (synthetic demo data, not your workspace)",
        TOKEN_HINT,
    )
    missing = sandbox_missing()
    if missing:
        install = sandbox_install("doctor")
        step = f"{TOKEN_HINT}, or to try the demo install the sandbox extra: {install}" if install else TOKEN_HINT
        detail = f"no CARGO_API_TOKEN, so serve would use the embedded sandbox, but {missing}"
        return [Check("backend", "FAIL", detail, step), Check("token", "FAIL", "CARGO_API_TOKEN is not set", step)]
    from cargo_mcp.sandbox.cache import SandboxCache, default_root

    cache = SandboxCache(settings.sandbox_cache or default_root(), settings.sandbox_seed, 1.0)
    state = "ready: starts in about a second" if cache.ready() else "empty: the first start builds it (10-50 s)"
    return [Check("backend", "ok", f"the embedded sandbox; its cache {cache.root} is {state}"), token]


async def _cargo(settings: Settings) -> list[Check]:
    backend = Check("backend", "ok", f"Cargo at {settings.base_url}")
    found = await probe(settings.base_url, settings.token or "", settings.workspace_uuid)
    if found.cargo_answered:
        url = Check("base URL", "ok", f"{settings.base_url} answers like Cargo's API")
    else:
        url = Check("base URL", "FAIL", found.reason, found.fix)
    return [backend, url, _token(found), await _sql(settings, found)]


def _token(found: Probe) -> Check:
    if found.verdict == "ok":
        return Check("token", "ok", f"opens {found.reason}")
    if found.verdict in ("bad_token", "forbidden"):
        return Check("token", "FAIL", found.reason, found.fix)
    if found.verdict == "error":
        return Check("token", "warn", f"not confirmed: {found.reason}", found.fix)
    return Check("token", "warn", "not checked: the base URL check failed", "fix the base URL first")


async def _sql(settings: Settings, found: Probe) -> Check:
    if found.verdict != "ok":
        return Check("SQL endpoint", "warn", "not checked: the token check did not pass", "fix the token first")
    sql = guard_check(SQL_PROBE, 1).sql  # the guard's own rendering, as every query the server sends
    client = CargoClient(
        settings.base_url,
        settings.token or "",
        workspace_uuid=settings.workspace_uuid,
        retry=PROBE_RETRY,
        timeout=PROBE_TIMEOUT,
    )
    async with client:
        try:
            rows = await client.query(sql)
        except CargoError as e:
            return Check("SQL endpoint", "FAIL", str(e), "execute_query and inspect_failures need it")
    count = rows[0].get("batches", "?") if rows else "?"
    return Check("SQL endpoint", "ok", f"a guarded SELECT answered ({count} batches)")
