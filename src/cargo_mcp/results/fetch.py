"""Fetch a signed download URL safely into a file.

Allowed hosts only (https; the sandbox's loopback host in sandbox mode), no redirects, private and
link-local addresses refused outside sandbox mode, a byte cap, streamed to disk so memory does not grow
with the file, and the URL's query string (its signature) never appears in an error.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import anyio
import httpx

from cargo_mcp import metrics
from cargo_mcp.api.errors import CargoApiError, CargoNetworkError

DEFAULT_MAX_BYTES = 500 * 1024 * 1024
DEFAULT_HOSTS = ("amazonaws.com", "getcargo.io", "cloudfront.net")
CHUNK = 64 * 1024


class UrlExpired(CargoApiError):
    """The signed URL was refused (expired or tampered); ask Cargo for a fresh one."""


@dataclass(frozen=True)
class FetchPolicy:
    """Which download URLs may be fetched. ``allow_loopback`` is for the embedded sandbox only."""

    allowed_host_suffixes: tuple[str, ...] = DEFAULT_HOSTS
    allow_loopback: bool = False
    max_bytes: int = DEFAULT_MAX_BYTES


def redact(url: str) -> str:
    """The URL without its query string (signatures live there)."""
    p = urlsplit(url)
    return f"{p.scheme}://{p.netloc}{p.path}"


def _refuse(url: str, problem: str) -> CargoApiError:
    return CargoApiError(
        f"Refused to fetch the download URL {redact(url)}: {problem}.",
        hint="If this host is legitimate, add it to CARGO_MCP_DOWNLOAD_HOSTS (comma-separated host suffixes).",
    )


async def check_url(url: str, policy: FetchPolicy) -> None:
    """Raise :class:`CargoApiError` unless ``url`` may be fetched under ``policy``."""
    p = urlsplit(url)
    host = (p.hostname or "").lower()
    if policy.allow_loopback and _is_loopback(host) and p.scheme in ("http", "https"):
        return
    if p.scheme != "https":
        raise _refuse(url, "it is not https")
    if _ip(host) is not None:
        raise _refuse(url, "it points at a bare IP address")
    if not any(host == s or host.endswith("." + s) for s in policy.allowed_host_suffixes):
        raise _refuse(url, f"host {host!r} is not an allowed download host {list(policy.allowed_host_suffixes)}")
    try:
        infos = await anyio.getaddrinfo(host, p.port or 443, type=socket.SOCK_STREAM)
    except OSError:
        raise CargoNetworkError(f"Could not resolve the download host {host}.", hint="Retry the download.") from None
    for info in infos:
        addr = _ip(str(info[4][0]))
        if addr is not None and (addr.is_private or addr.is_loopback or addr.is_link_local or addr.is_reserved):
            raise _refuse(url, f"host {host!r} resolves to a private or link-local address")


async def fetch_to_file(http: httpx.AsyncClient, url: str, policy: FetchPolicy, dest: Path) -> int:
    """Stream the file behind a signed URL into ``dest`` (no auth header, no redirects, capped).

    Returns the byte count. On any failure ``dest`` is removed, so no partial file is left.
    """
    await check_url(url, policy)
    safe = redact(url)
    size = 0
    try:
        async with http.stream("GET", url, follow_redirects=False) as resp:
            if resp.status_code in (401, 403):
                raise UrlExpired(
                    f"The download URL was refused (HTTP {resp.status_code}): it expired or its signature is invalid.",
                    status=resp.status_code,
                    hint="Request the download again for a fresh URL.",
                )
            if resp.is_redirect:
                target = urlsplit(resp.headers.get("location", "")).hostname or "another location"
                raise CargoApiError(
                    f"The download URL {safe} redirected to {target}; redirects are not followed.",
                    status=resp.status_code,
                    hint="Retry; if it persists, report it to Cargo.",
                )
            if not resp.is_success:
                raise CargoApiError(
                    f"Fetching the download file failed with HTTP {resp.status_code}.",
                    status=resp.status_code,
                    hint="Retry the download.",
                )
            declared = int(resp.headers.get("content-length") or 0)
            if declared > policy.max_bytes:
                raise _too_big(policy)
            with dest.open("wb") as out:
                async for chunk in resp.aiter_bytes(CHUNK):
                    size += len(chunk)
                    if size > policy.max_bytes:
                        raise _too_big(policy)
                    out.write(chunk)
    except httpx.TransportError:
        dest.unlink(missing_ok=True)
        raise CargoNetworkError(
            f"Fetching the download file from {safe} failed (connection dropped or timed out).",
            hint="Retry the download.",
        ) from None
    except BaseException:
        dest.unlink(missing_ok=True)
        raise
    metrics.DOWNLOADS.inc()
    metrics.DOWNLOAD_BYTES.inc(size)
    return size


def _too_big(policy: FetchPolicy) -> CargoApiError:
    return CargoApiError(
        f"The download file is larger than the {policy.max_bytes:,}-byte cap (CARGO_MCP_MAX_DOWNLOAD_BYTES).",
        hint="Narrow the filters, or raise CARGO_MCP_MAX_DOWNLOAD_BYTES.",
    )


def _ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def _is_loopback(host: str) -> bool:
    addr = _ip(host)
    return host == "localhost" or (addr is not None and addr.is_loopback)
