"""Fetch a signed download URL safely into a file.

Allowed hosts only (https; in sandbox mode or with a local base URL, plain http to that one loopback
origin), no redirects, private and link-local addresses refused otherwise, a byte cap, streamed to disk so
memory does not grow with the file, and the URL's query string (its signature) never appears in an error.
Failures another try may cure (429, 5xx, a dropped connection, a timeout, an expired URL) are
:class:`FetchRetryable`; the caller decides whether to try again.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import SplitResult, urlsplit

import anyio
import httpx

from cargo_mcp import metrics
from cargo_mcp.api.errors import CargoApiError
from cargo_mcp.api.retry import RETRY_STATUSES, parse_retry_after
from cargo_mcp.clip import echo

DEFAULT_MAX_BYTES = 500 * 1024 * 1024
DEFAULT_HOSTS = ("amazonaws.com", "getcargo.io", "cloudfront.net")
CHUNK = 64 * 1024
# A file host's 500 is transient too (S3 documents InternalError as retryable).
FILE_RETRY_STATUSES = RETRY_STATUSES | {500}
DEFAULT_PORTS = {"http": 80, "https": 443}


class FetchRetryable(CargoApiError):
    """The file could not be fetched this time; another try may work. ``cause`` is a short phrase."""

    def __init__(self, cause: str, *, status: int | None = None, retry_after: float | None = None) -> None:
        self.cause = cause
        self.retry_after = retry_after
        super().__init__(f"Fetching the download file failed: {cause}.", status=status, hint="Retry the download.")


class UrlExpired(FetchRetryable):
    """The signed URL was refused (expired or tampered); ask Cargo for a fresh one."""


@dataclass(frozen=True)
class FetchPolicy:
    """Which download URLs may be fetched.

    ``loopback_origins`` (``host:port``) are the only loopback addresses allowed, plain http included:
    the embedded sandbox's, or a local base URL's.
    """

    allowed_host_suffixes: tuple[str, ...] = DEFAULT_HOSTS
    loopback_origins: tuple[str, ...] = ()
    max_bytes: int = DEFAULT_MAX_BYTES


def loopback_origin(url: str) -> str | None:
    """``host:port`` of ``url`` when its host is a loopback address, else ``None``."""
    p = urlsplit(url)
    host = (p.hostname or "").lower()
    return _origin(p, host) if _is_loopback(host) else None


def redact(url: str) -> str:
    """The URL without its query string (signatures live there), quoted and clipped."""
    p = urlsplit(url)
    return echo(f"{p.scheme}://{p.netloc}{p.path}")


HOST_HINT = "If this host is legitimate, add it to CARGO_MCP_DOWNLOAD_HOSTS (comma-separated host suffixes)."
ODD_HINT = "Cargo gave an unusable download URL: retry; if it repeats, report it to the cargo-mcp maintainers."


def _refuse(url: str, problem: str, hint: str = HOST_HINT) -> CargoApiError:
    return CargoApiError(f"Refused to fetch the download URL {_safe(url)}: {problem}.", hint=hint)


def _safe(url: str) -> str:
    try:
        return redact(url)
    except ValueError:  # not even splittable: show none of it
        return f"of {len(url):,} characters"


async def check_url(url: str, policy: FetchPolicy) -> None:
    """Raise :class:`CargoApiError` unless ``url`` may be fetched under ``policy``."""
    if any(ord(c) < 33 or ord(c) == 127 for c in url):
        raise _refuse(url, "it contains a space or a control character", ODD_HINT)
    try:
        p = urlsplit(url)
        port = p.port
    except ValueError as e:  # a port that is no number or out of range, a bad IPv6 literal
        raise _refuse(url, f"it is not a valid URL ({e})", ODD_HINT) from None
    if port == 0:
        raise _refuse(url, "it is not a valid URL (port 0)", ODD_HINT)
    host = (p.hostname or "").lower()
    if _is_loopback(host) and policy.loopback_origins:
        origin = _origin(p, host)
        if origin in policy.loopback_origins and p.scheme in DEFAULT_PORTS:
            return
        allowed = ", ".join(policy.loopback_origins)
        raise _refuse(url, f"{origin} is a loopback address other than the one allowed ({allowed})", ODD_HINT)
    if p.scheme != "https":
        raise _refuse(url, "it is not https")
    if _ip(host) is not None:
        raise _refuse(url, "it points at a bare IP address")
    if not any(host == s or host.endswith("." + s) for s in policy.allowed_host_suffixes):
        raise _refuse(url, f"host {echo(host)} is not an allowed download host {list(policy.allowed_host_suffixes)}")
    try:
        infos = await anyio.getaddrinfo(host, port or 443, type=socket.SOCK_STREAM)
    except OSError:
        raise FetchRetryable(f"the download host {echo(host)} could not be resolved") from None
    for info in infos:
        addr = _ip(str(info[4][0]))
        if addr is not None and (addr.is_private or addr.is_loopback or addr.is_link_local or addr.is_reserved):
            raise _refuse(url, f"host {echo(host)} resolves to a private or link-local address")


async def fetch_to_file(http: httpx.AsyncClient, url: str, policy: FetchPolicy, dest: Path) -> int:
    """Stream the file behind a signed URL into ``dest`` (no auth header, no redirects, capped).

    Returns the byte count. On any failure ``dest`` is removed, so no partial file is left.
    """
    await check_url(url, policy)
    size = 0
    try:
        async with http.stream("GET", url, follow_redirects=False) as resp:
            if resp.status_code in (401, 403):
                raise UrlExpired(
                    f"the download URL was refused (HTTP {resp.status_code}): it expired or its signature is invalid",
                    status=resp.status_code,
                )
            if resp.status_code in FILE_RETRY_STATUSES:
                raise FetchRetryable(
                    f"the file host answered HTTP {resp.status_code}",
                    status=resp.status_code,
                    retry_after=parse_retry_after(resp.headers.get("retry-after")),
                )
            if resp.is_redirect:
                target = urlsplit(resp.headers.get("location", "")).hostname or "another location"
                raise CargoApiError(
                    f"The download URL {redact(url)} redirected to {echo(target)}; redirects are not followed.",
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
    except httpx.TimeoutException:
        dest.unlink(missing_ok=True)
        raise FetchRetryable("the file host did not answer in time") from None
    except httpx.TransportError:
        dest.unlink(missing_ok=True)
        raise FetchRetryable("the connection dropped or could not be made") from None
    except httpx.InvalidURL as e:
        dest.unlink(missing_ok=True)
        raise _refuse(url, f"it is not a valid URL ({e})", ODD_HINT) from None
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


def _origin(p: SplitResult, host: str) -> str:
    port = p.port or DEFAULT_PORTS.get(p.scheme, 0)
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def _is_loopback(host: str) -> bool:
    addr = _ip(host)
    return host == "localhost" or (addr is not None and addr.is_loopback)
