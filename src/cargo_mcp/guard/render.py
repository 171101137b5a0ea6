"""Split a text into statements with sqlglot's tokenizer and re-render one statement from its tokens.

The guard sends the re-rendered text, never the original: comments are dropped, every string literal is
re-quoted from its decoded value and every quoted identifier is re-quoted, so ClickHouse lexes exactly the
tokens the guard checked — comments, escapes, odd whitespace and look-alike characters cannot hide anything.
Code tokens keep the user's spelling (``toStartOfMonth`` stays ``toStartOfMonth``).
"""

from __future__ import annotations

from itertools import pairwise

from sqlglot.errors import TokenError
from sqlglot.tokenizer_core import Token, TokenType

from cargo_mcp.guard.dialect import DIALECT

_STRINGS = frozenset({TokenType.STRING, TokenType.HEREDOC_STRING})
_QUOTES = frozenset("'\"`\\$")


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
    for tok in tokens:
        if tok.token_type == TokenType.SEMICOLON:
            result.append([])
        else:
            result[-1].append(tok)
    return [s for s in result if s]


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
        return quote_string(tok.text)
    if tok.token_type == TokenType.IDENTIFIER:
        return _quote_identifier(tok.text, tok.text in own)
    original = text[tok.start : tok.end + 1]
    odd = next((ch for ch in original if not ch.isascii() or not ch.isprintable()), None)
    if odd is not None:
        raise RenderError(
            f"The character {odd!r} (U+{ord(odd):04X}) appears outside a string literal in {original!r}. "
            "Instead, write keywords, names and operators in plain ASCII; only 'string literals' may hold other text."
        )
    if _QUOTES & set(original):
        raise RenderError(
            f"The literal {original!r} uses a quoting form the guard does not accept. "
            "Instead, write strings as 'text' and names as `name`."
        )
    return original


def quote_string(value: str) -> str:
    """A ClickHouse single-quoted literal for ``value`` (backslash escapes; control characters as \\xHH)."""
    out = ["'"]
    for ch in value:
        if ch in "\\'":
            out.append("\\" + ch)
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
            f"The quoted name {name!r} contains characters no Cargo table or column has. "
            "Instead, use the plain names listed in cargo://sql/schema."
        )
    return f"`{name}`"
