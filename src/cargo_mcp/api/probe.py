"""One current-workspace call that says whether the token and the base URL work (doctor, serve's start check)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import httpx

from cargo_mcp.api.client import DEFAULT_BASE_URL, CargoClient
from cargo_mcp.api.errors import HINTS, TOKEN_SOURCE, CargoApiError, CargoNetworkError, CargoShapeError, NotCargoError
from cargo_mcp.api.models import Workspace
from cargo_mcp.api.retry import RetryPolicy

# Quick: a setup check must answer in seconds, not after the tools' full retry budget.
PROBE_RETRY = RetryPolicy(max_attempts=2, base_delay=0.5, max_delay=1.0, max_total=10.0)
PROBE_TIMEOUT = httpx.Timeout(10.0, connect=5.0)

Verdict = Literal["ok", "bad_token", "forbidden", "unreachable", "not_cargo", "error"]


@dataclass(frozen=True)
class Probe:
    """What the current-workspace call showed: ``reason`` and ``fix`` are token-free sentences."""

    verdict: Verdict
    reason: str
    fix: str = ""
    workspace: Workspace | None = None

    @property
    def cargo_answered(self) -> bool:
        """The base URL answered like Cargo (even if it refused the token)."""
        return self.verdict in ("ok", "bad_token", "forbidden", "error")


async def probe(
    base_url: str,
    token: str,
    workspace_uuid: str | None = None,
    *,
    retry: RetryPolicy = PROBE_RETRY,
    timeout: httpx.Timeout = PROBE_TIMEOUT,
) -> Probe:
    """Call ``GET /workspaceManagement/workspaces/current`` once (with a short retry) and classify the answer."""
    async with CargoClient(base_url, token, workspace_uuid=workspace_uuid, retry=retry, timeout=timeout) as client:
        try:
            ws = await client.current_workspace()
        except NotCargoError as e:
            return Probe("not_cargo", e.message, e.hint or "")
        except CargoShapeError:
            return Probe(
                "not_cargo",
                f"{base_url} answered the current-workspace call with JSON that is not a Cargo workspace.",
                f"Set CARGO_API_BASE_URL to Cargo's API ({DEFAULT_BASE_URL}, the default) or remove it.",
            )
        except CargoNetworkError as e:
            return Probe("unreachable", e.message, e.hint or "")
        except CargoApiError as e:
            if e.status == 401:
                return Probe(
                    "bad_token",
                    "Cargo refused the CARGO_API_TOKEN that is set (HTTP 401): it is invalid, expired or for "
                    "another workspace.",
                    f"Create a workspace API token in {TOKEN_SOURCE} and set CARGO_API_TOKEN to it.",
                )
            if e.status == 403:
                return Probe(
                    "forbidden", "The token cannot act in the selected workspace (HTTP 403).", HINTS["forbidden"]
                )
            return Probe("error", f"Cargo answered HTTP {e.status}: {e.message}", e.hint or "Retry in a minute.")
    return Probe("ok", f"workspace {ws.name!r} ({ws.uuid})", workspace=ws)
