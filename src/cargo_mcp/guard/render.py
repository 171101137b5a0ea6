"""Split a text into statements with sqlglot's tokenizer and re-render one statement from its tokens.

The guard sends the re-rendered text, never the original: comments are dropped, every string literal is
re-quoted from its decoded value and every quoted identifier is re-quoted, so ClickHouse lexes exactly the
tokens the guard checked — comments, escapes, odd whitespace and look-alike characters cannot hide anything.
Code tokens keep the user's spelling (``toStartOfMonth`` stays ``toStartOfMonth``). A hex string ``x'41FF'``
becomes the plain literal of the same bytes (``'A\\xFF'``); bytes that are not UTF-8 text stay ``\\xHH`` escapes.
"""

from __future__ import annotations

import re
from itertools import pairwise

from sqlglot.errors import TokenError
from sqlglot.tokenizer_core import Token, TokenType

from cargo_mcp.guard.dialect import DIALECT

_STRINGS = frozenset({TokenType.STRING, TokenType.HEREDOC_STRING})
_QUOTES = frozenset("'\"`\\$")
_HEX = re.compile(r"(?:[0-9A-Fa-f]{2})*")
# ClickHouse's string escapes (IO/ReadHelpers parseEscapeSequence); any other escaped character stands for itself.
_ESCAPES = {"a": b"\a", "b": b"\b", "e": b"\x1b", "f": b"\f", "n": b"\n", "r": b"\r", "t": b"\t", "v": b"\v"}
_ESCAPES |= {"0": b"\0", "N": b""}


def clip(text: str, limit: int = 80) -> str:
    """A piece of the user's text quoted in a message, cut to ``limit`` characters (an error never echoes a huge
    input back)."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


class RenderError(ValueError):
    """The text cannot be rendered safely; the message names the construct and what to send instead."""


def statements(text: str) -> list[list[Token]]:
    """The token lists of the non-empty statements in ``text`` (split at top-level ``;``)."""
    try:
        tokens = DIALECT.tokenize(text)
    except TokenError as e:
        raise RenderError(
            f"The SQL cannot be tokenized ({str(e).splitlines()[0]}). Instead, close every quote and comment."
        ) from None
    result: list[list[Token]] = [[]]
    for tok in _hex_strings(text, tokens):
        if tok.token_type == TokenType.SEMICOLON:
            result.append([])
        else:
            result[-1].append(tok)
    return [s for s in result if s]


def _hex_strings(text: str, tokens: list[Token]) -> list[Token]:
    """``x'…'`` / ``X'…'`` (a name and a string with nothing between them) is one string literal in ClickHouse."""
    merged: list[Token] = []
    for tok in tokens:
        before = merged[-1] if merged else None
        if (
            tok.token_type == TokenType.STRING
            and before is not None
            and before.token_type == TokenType.VAR
            and before.text in ("x", "X")
            and before.end + 1 == tok.start
            and text[tok.start] == "'"
        ):
            digits = text[tok.start + 1 : tok.end]
            if not _HEX.fullmatch(digits):
                raise RenderError(
                    f"The hex string {text[before.start : tok.end + 1][:40]!r} is not pairs of hex digits. "
                    "Instead, write x'' with an even number of 0-9 A-F digits, or a plain 'string'."
                )
            value = bytes.fromhex(digits).decode("utf-8", "surrogateescape")
            merged[-1] = Token(TokenType.STRING, value, before.line, before.col, before.start, tok.end)
        else:
            merged.append(tok)
    return merged


def render(text: str, tokens: list[Token]) -> str:
    """One statement's canonical text: tokens in order, a single space wherever the original had a gap."""
    own = _aliases(tokens)
    parts: list[str] = []
    previous_end: int | None = None
    for tok in tokens:
        if previous_end is not None and tok.start > previous_end + 1:
            parts.append(" ")
        parts.append(_token_text(text, tok, own))
        previous_end = tok.end
    return "".join(parts)


def _aliases(tokens: list[Token]) -> set[str]:
    """Quoted names the statement defines itself (``AS `coût` ``): they may hold any printable text."""
    return {
        tok.text
        for before, tok in pairwise(tokens)
        if before.token_type == TokenType.ALIAS and tok.token_type == TokenType.IDENTIFIER
    }


def _token_text(text: str, tok: Token, own: set[str]) -> str:
    if tok.token_type in _STRINGS:
        raw = text[tok.start : tok.end + 1]
        if tok.token_type == TokenType.STRING and raw.startswith("'") and "\\x" in raw:
            return quote_string(_literal_bytes(raw[1:-1]).decode("utf-8", "surrogateescape"))
        return quote_string(tok.text)
    if tok.token_type == TokenType.IDENTIFIER:
        return _quote_identifier(tok.text, tok.text in own)
    original = text[tok.start : tok.end + 1]
    odd = next((ch for ch in original if not ch.isascii() or not ch.isprintable()), None)
    if odd is not None:
        raise RenderError(
            f"The character {odd!r} (U+{ord(odd):04X}) appears outside a string literal in {clip(original)!r}. "
            "Instead, write keywords, names and operators in plain ASCII; only 'string literals' may hold other text."
        )
    if _QUOTES & set(original):
        raise RenderError(
            f"The literal {clip(original)!r} uses a quoting form the guard does not accept. "
            "Instead, write strings as 'text' and names as `name`."
        )
    return original


def _literal_bytes(body: str) -> bytes:
    """The bytes ClickHouse reads from a quoted literal's body: ``\\xHH`` is one byte, not a character."""
    out = bytearray()
    i = 0
    while i < len(body):
        ch = body[i]
        if ch == "'" and body[i + 1 : i + 2] == "'":
            out += b"'"
            i += 2
        elif ch == "\\" and body[i + 1 : i + 2] == "x":
            digits = body[i + 2 : i + 4]
            if not (len(digits) == 2 and _HEX.fullmatch(digits)):
                raise RenderError(
                    f"The escape {body[i : i + 4]!r} is not \\x and two hex digits. Instead, write \\xHH, e.g. \\x41."
                )
            out.append(int(digits, 16))
            i += 4
        elif ch == "\\" and i + 1 < len(body):
            following = body[i + 1]
            out += _ESCAPES.get(following, following.encode())
            i += 2
        else:
            out += ch.encode()
            i += 1
    return bytes(out)


def quote_string(value: str) -> str:
    """A ClickHouse single-quoted literal for ``value`` (backslash escapes; control characters, and bytes that are
    not UTF-8 text — decoded as surrogate escapes — as \\xHH)."""
    out = ["'"]
    for ch in value:
        if ch in "\\'":
            out.append("\\" + ch)
        elif 0xDC80 <= ord(ch) <= 0xDCFF:
            out.append(f"\\x{ord(ch) - 0xDC00:02X}")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\x{ord(ch):02X}")
        else:
            out.append(ch)
    out.append("'")
    return "".join(out)


def _quote_identifier(name: str, own_alias: bool) -> str:
    odd = set(name) & {"`", "\\"} if own_alias else (set(name) & _QUOTES or not name.isascii())
    if not name or not name.isprintable() or odd:
        raise RenderError(
            f"The quoted name {clip(name)!r} contains characters no Cargo table or column has. "
            "Instead, use the plain names listed in cargo://sql/schema."
        )
    return f"`{name}`"
