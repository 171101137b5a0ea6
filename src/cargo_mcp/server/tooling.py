"""Shared plumbing for tools: annotations, strict arguments, error translation, the services, structured answers."""

from __future__ import annotations

import difflib
import functools
import inspect
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, ParamSpec, TypeVar

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.tools import Tool
from mcp.types import CallToolResult, TextContent, ToolAnnotations
from pydantic import BaseModel, Field, ValidationError
from pydantic_core import ErrorDetails

from cargo_mcp.api.errors import CargoError
from cargo_mcp.api.vocabulary import InputError
from cargo_mcp.clip import ECHO_MAX, echo
from cargo_mcp.results.store import ResultStoreUnavailable
from cargo_mcp.server import notify
from cargo_mcp.server.manual import lean
from cargo_mcp.server.render import neutral
from cargo_mcp.server.services import Services

# Reads Cargo, changes nothing.
READ_ONLY = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=True)
# Reads only what this server keeps locally.
READ_LOCAL = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False)
# Writes a local file, and may replace one (overwrite=true): hosts should ask before running it.
WRITES_FILE = ToolAnnotations(read_only_hint=False, destructive_hint=True, idempotent_hint=True, open_world_hint=False)
Uuid = Annotated[str, Field(json_schema_extra={"format": "uuid"})]

log = logging.getLogger("cargo_mcp")
P = ParamSpec("P")
R = TypeVar("R")
F = TypeVar("F", bound=Callable[..., Any])
KNOWN = (InputError, CargoError, ResultStoreUnavailable)


def services(ctx: Context[Any, Any]) -> Services:
    state: Services = ctx.request_context.lifespan_context
    return state


def tool_errors(fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """Turn input and Cargo errors (also inside exception groups) into tool errors the model can act on; any other
    exception is a bug of cargo-mcp: logged with its traceback, reported to the model as an internal error."""

    @functools.wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await fn(*args, **kwargs)
        except Exception as e:
            raise _tool_error(e, fn.__name__) from None

    return wrapper


def _tool_error(e: Exception, tool: str) -> ToolError:
    leaves = list(_leaves(e))
    known = next((x for x in leaves if isinstance(x, KNOWN)), None)
    if known is not None:
        if len(leaves) > 1 and any(not isinstance(x, KNOWN) for x in leaves):
            log.error("cargo-mcp tool %s: errors beside the one reported", tool, exc_info=e)
        return ToolError(f"Invalid input: {known}" if isinstance(known, InputError) else str(known))
    log.error("cargo-mcp tool %s: internal error", tool, exc_info=e)
    return ToolError(
        f"internal error in cargo-mcp ({type(e).__name__}), reported in the server log: a bug of cargo-mcp, not of "
        "the arguments. Report it to the cargo-mcp maintainers; the other tools may still work."
    )


def _leaves(e: BaseException) -> list[BaseException]:
    """The exceptions inside a (nested) exception group, in order; ``[e]`` for any other exception."""
    if isinstance(e, BaseExceptionGroup):
        return [leaf for sub in e.exceptions for leaf in _leaves(sub)]
    return [e]


def answer(model: BaseModel, text: str) -> CallToolResult:
    """A result with the text the model reads (hostile characters escaped) and the model as structured content."""
    return CallToolResult(
        content=[TextContent(type="text", text=neutral(text))],
        structured_content=model.model_dump(mode="json"),
    )


def doc(**fields: object) -> Callable[[F], F]:
    """Fill the ``{name}`` fields of a tool's docstring with contract constants (apply below ``tool_errors``)."""

    def fill(fn: F) -> F:
        fn.__doc__ = (fn.__doc__ or "").format(**fields)
        return fn

    return fill


class StrictTool(Tool):
    """A tool that refuses arguments it does not take (naming the closest one) and says in plain words what is
    wrong with a value; every error text it returns has hostile characters escaped."""

    async def run(self, arguments: dict[str, Any], context: Any, convert_result: bool = False) -> Any:
        with notify.serving(context):  # the code below the tool may log and report progress to this request
            try:
                self._check(arguments)
                return await super().run(arguments, context, convert_result=convert_result)
            except ToolError as e:  # one line, whatever a message quotes
                raise type(e)(neutral(str(e)).replace("\n", "\\n")) from e.__cause__

    def _check(self, arguments: dict[str, Any]) -> None:
        known = [f.alias or name for name, f in self.fn_metadata.arg_model.model_fields.items()]
        unknown = [k for k in arguments if k not in known]
        if unknown:
            raise ToolError(f"Error executing tool {self.name}: Invalid input: {_unknown(unknown, known)}")
        try:
            self.fn_metadata.validate_arguments(arguments)
        except ValidationError as e:
            raise ToolError(f"Error executing tool {self.name}: Invalid input: {_plain(e)}") from e


def _unknown(names: list[str], known: list[str]) -> str:
    said = []
    for name in names:
        close = difflib.get_close_matches(name, known, n=1)
        said.append(f"unknown argument {echo(name)}" + (f" — did you mean {close[0]!r}?" if close else ""))
    return "; ".join(said) + f" (the arguments are: {', '.join(known) or 'none'})."


def _plain(e: ValidationError) -> str:
    """Pydantic's errors as sentences: ``limit must be at most 200, got 500``; union branches joined by "or"."""
    needs: dict[str, list[str]] = {}
    given: dict[str, Any] = {}
    for err in e.errors(include_url=False):
        # Later string parts of a location name union branches ('list[str]'), not places in the value.
        first, *more = err["loc"]
        where = str(first) + "".join(f"[{p}]" for p in more if isinstance(p, int))
        needs.setdefault(where, []).append(_need(err))
        given.setdefault(where, err.get("input"))
    sentences = []
    for where, need in needs.items():
        if "is required" in need:
            sentences.append(f"{where} is required")
            continue
        first, *others = dict.fromkeys(need)
        either = "".join(f" or {n.removeprefix('be ')}" for n in others)
        sentences.append(f"{where} must {first}{either}, got {_got(given[where])}")
    return "; ".join(sentences) + "."


def _got(value: Any) -> str:
    """A value the caller sent, as JSON (a string quoted), clipped like every echo."""
    if isinstance(value, str):
        return echo(value)
    text = json.dumps(value, default=str)
    return text if len(text) <= ECHO_MAX else f"{text[:ECHO_MAX]}… ({len(text):,} characters)"


_NEEDS = {
    "int_parsing": "be a whole number",
    "int_type": "be a whole number",
    "int_from_float": "be a whole number",
    "int_parsing_size": "be a whole number",
    "float_parsing": "be a number",
    "float_type": "be a number",
    "bool_parsing": "be true or false",
    "bool_type": "be true or false",
    "string_type": "be a string",
    "list_type": "be a list",
    "dict_type": "be an object",
}


def _need(err: ErrorDetails) -> str:
    kind, ctx = err["type"], err.get("ctx") or {}
    if kind == "missing":
        return "is required"
    if kind in _NEEDS:
        return _NEEDS[kind]
    bounds = {
        "less_than_equal": "be at most {le}",
        "greater_than_equal": "be at least {ge}",
        "less_than": "be less than {lt}",
        "greater_than": "be greater than {gt}",
        "string_too_short": "have at least {min_length} character(s)",
        "string_too_long": "have at most {max_length} characters",
        "too_short": "have at least {min_length} item(s)",
        "too_long": "have at most {max_length} items",
        "literal_error": "be {expected}",
        "enum": "be {expected}",
    }
    if kind in bounds:
        return bounds[kind].format(**ctx)
    msg = err["msg"]
    return "satisfy: " + msg[:1].lower() + msg[1:]


def add_tool(mcp: MCPServer[Any], fn: Callable[..., Any], title: str, annotations: ToolAnnotations = READ_ONLY) -> None:
    """Register a tool with strict arguments and lean schemas; its docstring (dedented) is the model's manual."""
    tool = StrictTool.from_function(
        fn, title=title, description=inspect.cleandoc(fn.__doc__ or ""), annotations=annotations
    )
    tool.parameters = lean(tool.parameters, output=False)
    if tool.fn_metadata.output_schema is not None:
        tool.fn_metadata.output_schema = lean(tool.fn_metadata.output_schema, output=True)
    # The SDK takes Tool objects only in its constructor; its tool manager is where add_tool puts them.
    mcp._tool_manager._tools[tool.name] = tool
