"""Who is calling the HTTP endpoint: server-wide bearer tokens, OAuth access tokens, each caller's Cargo token.

:class:`Authenticator` turns a request's headers into a :class:`Caller` or a :class:`Refusal` (401 with
``WWW-Authenticate``, 403 or 503). Two independent questions are answered:

- *may this request reach the endpoint?* — one of the server-wide bearer tokens (compared in constant time),
  or an OAuth 2.1 access token (a JWT checked against the issuer's JWKS, the audience and the scopes), or
  nothing (loopback, or the operator's explicit opt-out);
- *as whom does it talk to Cargo?* — the server's own token, or the caller's own Cargo API token (in the
  ``X-Cargo-Api-Token`` header, or as the bearer token itself), checked with Cargo before first use.

``Caller.scope`` keys everything a caller may see (Cargo client, caches, result handles): a hash of the
caller's Cargo token, of the OAuth subject, or ``"shared"`` when every caller acts as the server.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import anyio.to_thread
import jwt
from mcp.server.auth.provider import AccessToken

from cargo_mcp.http_settings import CallerTokenMode

CARGO_TOKEN_HEADER = "x-cargo-api-token"
SHARED_SCOPE = "shared"
ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")


@dataclass(frozen=True)
class Caller:
    """An authenticated request: its scope and, in per-caller mode, the Cargo token it acts with."""

    scope: str
    cargo_token: str | None = field(default=None, repr=False)
    subject: str | None = None

    @property
    def label(self) -> str:
        """What logs may show: the scope's first characters, never a credential."""
        return self.scope if self.scope == SHARED_SCOPE else self.scope[:12]


@dataclass(frozen=True)
class Refusal:
    """An HTTP error answer: status, the OAuth ``error`` code and a sentence for the caller."""

    status: int
    error: str
    description: str
    reason: str  # the metrics label


class CallerRejected(Exception):
    """Cargo refused the caller's own token (401/403)."""


class CargoUnavailable(Exception):
    """The caller's token could not be checked: Cargo did not answer usefully."""


def credential_scope(*parts: str) -> str:
    """A stable, one-way key for a credential (the same on every replica)."""
    digest = hashlib.sha256("\0".join(("cargo-mcp caller", *parts)).encode()).hexdigest()
    return digest[:32]


class BearerTokens:
    """The server-wide tokens (several, so one can be rotated out while the next is already in use)."""

    def __init__(self, tokens: Sequence[str]) -> None:
        if not tokens:
            raise ValueError("BearerTokens needs at least one token")
        self._tokens = [t.encode() for t in tokens]

    def matches(self, presented: str) -> bool:
        given = presented.encode()
        found = False
        for token in self._tokens:  # compare with every token: the time taken does not say which matched
            found |= hmac.compare_digest(given, token)
        return found


class JwtVerifier:
    """An OAuth 2.1 resource server's token check (the SDK's ``TokenVerifier`` protocol) for JWT access tokens.

    The signature is checked with the issuer's keys (``jwks_url``, fetched and cached by PyJWT), and the
    token must carry ``iss`` = ``issuer``, ``aud`` = ``audience`` (this server's resource URL, RFC 8707),
    ``exp`` and ``sub``. Opaque (non-JWT) tokens are not supported.
    """

    def __init__(self, issuer: str, audience: str, jwks_url: str, algorithms: Sequence[str] = ALGORITHMS) -> None:
        self.issuer = issuer
        self.audience = audience
        self.algorithms = list(algorithms)
        self._keys = jwt.PyJWKClient(jwks_url, cache_keys=True, lifespan=300, timeout=10)

    async def verify_token(self, token: str) -> AccessToken | None:
        try:
            claims = await anyio.to_thread.run_sync(self._decode, token)
        except (jwt.PyJWTError, ValueError):
            return None
        scopes = claims.get("scope", "")
        listed = scopes.split() if isinstance(scopes, str) else []
        if isinstance(claims.get("scp"), list):
            listed += [str(s) for s in claims["scp"]]
        return AccessToken(
            token=token,
            client_id=str(claims.get("client_id") or claims.get("azp") or claims["sub"]),
            scopes=listed,
            expires_at=int(claims["exp"]),
            resource=self.audience,
            subject=str(claims["sub"]),
            claims={"iss": claims["iss"]},
        )

    def _decode(self, token: str) -> dict[str, Any]:
        key = self._keys.get_signing_key_from_jwt(token)
        claims: dict[str, Any] = jwt.decode(
            token,
            key.key,
            algorithms=self.algorithms,
            audience=self.audience,
            issuer=self.issuer,
            options={"require": ["exp", "iss", "aud", "sub"]},
        )
        return claims


VerifyCargo = Callable[[str], Awaitable[None]]


class Authenticator:
    """The HTTP endpoint's admission rule (see the module docstring for the modes)."""

    def __init__(
        self,
        *,
        tokens: BearerTokens | None = None,
        oauth: JwtVerifier | None = None,
        required_scopes: Sequence[str] = (),
        caller_tokens: CallerTokenMode | None = None,
        verify_cargo: VerifyCargo | None = None,
        resource_metadata_url: str | None = None,
    ) -> None:
        if tokens and oauth:
            raise ValueError("bearer tokens and OAuth are alternatives; configure one")
        if caller_tokens == "bearer" and (tokens or oauth):
            raise ValueError("the caller's Cargo token cannot be the bearer token when the endpoint has its own")
        if caller_tokens and verify_cargo is None:
            raise ValueError("per-caller Cargo tokens need a verify_cargo check")
        self.tokens = tokens
        self.oauth = oauth
        self.required_scopes = list(required_scopes)
        self.caller_tokens = caller_tokens
        self.verify_cargo = verify_cargo
        self.resource_metadata_url = resource_metadata_url

    @property
    def enabled(self) -> bool:
        return bool(self.tokens or self.oauth or self.caller_tokens)

    async def authenticate(self, headers: Mapping[str, str]) -> Caller | Refusal:
        bearer = _bearer(headers.get("authorization"))
        subject: str | None = None
        scope = SHARED_SCOPE
        if self.tokens is not None:
            if bearer is None:
                return _unauthenticated("send one of this server's tokens as 'Authorization: Bearer <token>'")
            if not self.tokens.matches(bearer):
                return _unauthenticated("the bearer token is not one of this server's tokens")
        elif self.oauth is not None:
            if bearer is None:
                return _unauthenticated("send an OAuth access token as 'Authorization: Bearer <token>'")
            access = await self.oauth.verify_token(bearer)
            if access is None:
                return _unauthenticated("the access token is invalid, expired or not issued for this server")
            missing = [s for s in self.required_scopes if s not in access.scopes]
            if missing:
                return Refusal(403, "insufficient_scope", f"the access token lacks scope {missing[0]!r}", "forbidden")
            subject = access.subject
            scope = credential_scope("oauth", str((access.claims or {}).get("iss", "")), access.subject or "")
        cargo_token: str | None = None
        if self.caller_tokens is not None:
            cargo_token = bearer if self.caller_tokens == "bearer" else _header_token(headers)
            where = "as 'Authorization: Bearer <token>'" if self.caller_tokens == "bearer" else "in X-Cargo-Api-Token"
            if not cargo_token:
                return _unauthenticated(f"send your Cargo API token {where}")
            assert self.verify_cargo is not None
            try:
                await self.verify_cargo(cargo_token)
            except CallerRejected:
                return _unauthenticated("Cargo refused this Cargo API token")
            except CargoUnavailable:
                return Refusal(503, "temporarily_unavailable", "Cargo could not check the token; retry", "unavailable")
            scope = credential_scope("cargo", cargo_token)
        return Caller(scope=scope, cargo_token=cargo_token, subject=subject)

    def challenge(self, refusal: Refusal) -> str:
        """The ``WWW-Authenticate`` value for a 401 or 403."""
        parts = ['realm="cargo-mcp"', f'error="{refusal.error}"', f'error_description="{refusal.description}"']
        if self.resource_metadata_url:
            parts.append(f'resource_metadata="{self.resource_metadata_url}"')
        return "Bearer " + ", ".join(parts)


def _unauthenticated(description: str) -> Refusal:
    return Refusal(401, "invalid_token", description, "unauthenticated")


def _bearer(header: str | None) -> str | None:
    if not header or header[:7].lower() != "bearer ":
        return None
    return header[7:].strip() or None


def _header_token(headers: Mapping[str, str]) -> str | None:
    value = (headers.get(CARGO_TOKEN_HEADER) or "").strip()
    return value.removeprefix("Bearer ").strip() or None
