"""Authentication of the HTTP endpoint: server tokens, per-caller Cargo tokens, OAuth JWTs (keys served on loopback)."""

from __future__ import annotations

import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from cargo_mcp.server.auth import (
    CARGO_TOKEN_HEADER,
    SHARED_SCOPE,
    Authenticator,
    BearerTokens,
    Caller,
    CallerRejected,
    CargoUnavailable,
    JwtVerifier,
    Refusal,
    credential_scope,
)
from tests.loopback import ISSUER, RESOURCE, Keys

pytestmark = pytest.mark.anyio


def test_bearer_tokens_match_any_configured_token_exactly() -> None:
    tokens = BearerTokens(["old-token-1234", "new-token-5678"])
    assert tokens.matches("old-token-1234") and tokens.matches("new-token-5678")
    for wrong in ("", "old-token-123", "old-token-12345", "OLD-TOKEN-1234", "new-token-5678 "):
        assert not tokens.matches(wrong)
    with pytest.raises(ValueError):
        BearerTokens([])


async def test_server_tokens() -> None:
    auth = Authenticator(tokens=BearerTokens(["s3cret-token"]))
    assert await auth.authenticate({"authorization": "Bearer s3cret-token"}) == Caller(SHARED_SCOPE)
    assert await auth.authenticate({"authorization": "bearer s3cret-token"}) == Caller(SHARED_SCOPE)
    for headers in ({}, {"authorization": "Bearer nope"}, {"authorization": "Basic s3cret-token"}):
        refusal = await auth.authenticate(headers)
        assert isinstance(refusal, Refusal) and refusal.status == 401 and refusal.error == "invalid_token"
        challenge = auth.challenge(refusal)
        assert challenge.startswith('Bearer realm="cargo-mcp", error="invalid_token"')
        assert "s3cret" not in challenge


async def test_caller_cargo_tokens_in_a_header_are_checked_with_cargo_once_known() -> None:
    checked: list[str] = []

    async def verify(token: str) -> None:
        checked.append(token)
        if token == "revoked":
            raise CallerRejected()
        if token == "flaky":
            raise CargoUnavailable()

    auth = Authenticator(caller_tokens="header", verify_cargo=verify)
    alice = await auth.authenticate({CARGO_TOKEN_HEADER: "alice-token"})
    bob = await auth.authenticate({CARGO_TOKEN_HEADER: "bob-token"})
    assert isinstance(alice, Caller) and isinstance(bob, Caller)
    assert alice.cargo_token == "alice-token" and alice.scope == credential_scope("cargo", "alice-token")
    assert alice.scope != bob.scope and "alice-token" not in repr(alice) and "alice" not in alice.label
    missing = await auth.authenticate({"authorization": "Bearer alice-token"})
    assert isinstance(missing, Refusal) and "X-Cargo-Api-Token" in missing.description
    revoked = await auth.authenticate({CARGO_TOKEN_HEADER: "revoked"})
    assert isinstance(revoked, Refusal) and revoked.status == 401 and "Cargo refused" in revoked.description
    flaky = await auth.authenticate({CARGO_TOKEN_HEADER: "flaky"})
    assert isinstance(flaky, Refusal) and flaky.status == 503
    assert checked == ["alice-token", "bob-token", "revoked", "flaky"]


async def test_caller_token_as_bearer_and_with_server_tokens() -> None:
    async def verify(token: str) -> None:
        return None

    as_bearer = Authenticator(caller_tokens="bearer", verify_cargo=verify)
    caller = await as_bearer.authenticate({"authorization": "Bearer carol-token"})
    assert isinstance(caller, Caller) and caller.cargo_token == "carol-token"
    both = Authenticator(tokens=BearerTokens(["endpoint"]), caller_tokens="header", verify_cargo=verify)
    no_endpoint = await both.authenticate({CARGO_TOKEN_HEADER: "carol-token"})
    assert isinstance(no_endpoint, Refusal) and no_endpoint.status == 401
    ok = await both.authenticate({"authorization": "Bearer endpoint", CARGO_TOKEN_HEADER: "carol-token"})
    assert isinstance(ok, Caller) and ok.scope == caller.scope
    with pytest.raises(ValueError, match="bearer token"):
        Authenticator(tokens=BearerTokens(["x"]), caller_tokens="bearer", verify_cargo=verify)


async def test_jwt_verifier_checks_signature_issuer_audience_and_expiry(keys: Keys) -> None:
    verifier = JwtVerifier(ISSUER, RESOURCE, keys.url)
    access = await verifier.verify_token(keys.token(client_id="agent-7", scope="mcp:read other"))
    assert access is not None and access.subject == "user-1" and access.client_id == "agent-7"
    assert access.scopes == ["mcp:read", "other"] and access.resource == RESOURCE
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    for bad in (
        keys.token(key=other_key),
        keys.token(iss="https://evil.example"),
        keys.token(aud="https://another.example/mcp"),
        keys.token(exp=int(time.time()) - 10),
        keys.token(sub=None),
        "not-a-jwt",
        jwt.encode({"iss": ISSUER, "aud": RESOURCE, "sub": "x", "exp": int(time.time()) + 60}, "k" * 32, "HS256"),
    ):
        assert await verifier.verify_token(bad) is None


async def test_oauth_mode_scopes_and_subjects(keys: Keys) -> None:
    auth = Authenticator(
        oauth=JwtVerifier(ISSUER, RESOURCE, keys.url),
        required_scopes=["mcp:read"],
        resource_metadata_url="https://mcp.example.test/.well-known/oauth-protected-resource/mcp",
    )
    one = await auth.authenticate({"authorization": f"Bearer {keys.token()}"})
    two = await auth.authenticate({"authorization": f"Bearer {keys.token(sub='user-2')}"})
    assert isinstance(one, Caller) and isinstance(two, Caller) and one.scope != two.scope
    assert one.cargo_token is None and one.subject == "user-1"
    narrow = await auth.authenticate({"authorization": f"Bearer {keys.token(scope='other')}"})
    assert isinstance(narrow, Refusal) and (narrow.status, narrow.error) == (403, "insufficient_scope")
    missing = await auth.authenticate({})
    assert isinstance(missing, Refusal) and missing.status == 401
    assert 'resource_metadata="https://mcp.example.test/.well-known/oauth-protected-resource/mcp"' in auth.challenge(
        missing
    )
