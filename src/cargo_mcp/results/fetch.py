"""Fetch a signed download URL safely: allowed hosts only, no redirects, a byte cap, no URL leaks."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from cargo_mcp.api.errors import CargoApiError, CargoNetworkError

DEFAULT_MAX_BYTES = 200 * 1024 * 1024


class UrlExpired(CargoApiError):
    """The signed URL was refused (expired or tampered); ask Cargo for a fresh one."""


@dataclass(frozen=True)
class FetchPolicy:
    """Which download URLs may be fetched. ``allow_loopback`` is for the embedded sandbox only."""

    allowed_host_suffixes: tuple[str, ...] = ("amazonaws.com", "getcargo.io", "cloudfront.net")
    allow_loopback: bool = False
    max_bytes: int = DEFAULT_MAX_BYTES


def redact(url: str) -> str:
    """The URL without its query string (signatures live there)."""
    p = urlsplit(url)
    return f"{p.scheme}://{p.netloc}{p.path}"


def check_url(url: str, policy: FetchPolicy) -> None:
    """Raise :class:`CargoApiError` unless ``url`` may be fetched under ``policy``."""
    p = urlsplit(url)
    host = (p.hostname or "").lower()
    loopback = _is_loopback(host)
    if loopback and policy.allow_loopback and p.scheme in ("http", "https"):
        return
    problem = None
    if p.scheme != "https":
        problem = "it is not https"
    elif _is_ip(host):
        problem = "it points at a bare IP address"
    elif not any(host == s or host.endswith("." + s) for s in policy.allowed_host_suffixes):
        problem = f"host {host!r} is not in the allowed download hosts {list(policy.allowed_host_suffixes)}"
    if problem:
        raise CargoApiError(
            f"Refused to fetch the download URL {redact(url)}: {problem}.",
            hint="If this host is legitimate, add it to CARGO_MCP_DOWNLOAD_HOSTS.",
        )


async def fetch(http: httpx.AsyncClient, url: str, policy: FetchPolicy) -> bytes:
    """Download the file behind a signed URL (no auth header, no redirects, at most ``max_bytes``)."""
    check_url(url, policy)
    safe = redact(url)
    try:
        async with http.stream("GET", url, follow_redirects=False) as resp:
            if resp.status_code in (401, 403):
                raise UrlExpired(
                    f"The download URL was refused (HTTP {resp.status_code}): it expired or is invalid.",
                    status=resp.status_code,
                    hint="Request the download again for a fresh URL.",
                )
            if resp.is_redirect:
                raise CargoApiError(
                    f"The download URL {safe} redirected elsewhere; redirects are not followed.",
                    status=resp.status_code,
                    hint="Retry; if it persists, report it to Cargo.",
                )
            if not resp.is_success:
                raise CargoApiError(
                    f"Fetching the download file failed with HTTP {resp.status_code}.",
                    status=resp.status_code,
                    hint="Retry the download.",
                )
            chunks: list[bytes] = []
            size = 0
            async for chunk in resp.aiter_bytes():
                size += len(chunk)
                if size > policy.max_bytes:
                    raise CargoApiError(
                        f"The download file is larger than the {policy.max_bytes:,}-byte cap.",
                        hint="Narrow the filters or page with limit/offset.",
                    )
                chunks.append(chunk)
            return b"".join(chunks)
    except httpx.TransportError:
        raise CargoNetworkError(
            f"Fetching the download file from {safe} failed (connection error or timeout).",
            hint="Retry the download.",
        ) from None


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
