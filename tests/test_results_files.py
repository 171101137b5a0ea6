"""save_result stays in its folder: planted links at the temporary name, a folder swapped while saving, bad names."""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from cargo_mcp.api.vocabulary import InputError
from cargo_mcp.results import export
from cargo_mcp.results.store import ResultStore
from cargo_mcp.sandbox.server import Sandbox
from cargo_mcp.server.app import build_server
from cargo_mcp.server.services import Services
from tests.conftest import remote_settings
from tests.support import FAST_RETRY, tool_text

pytestmark = pytest.mark.anyio


def batch_of(sb: Sandbox) -> str:
    return max(sb.workspaces[0].batches, key=lambda b: b.runs_count if b.status == "success" else 0).uuid


def files_in(folder: Path) -> list[Path]:
    """Every file and link under ``folder`` (links are listed, not followed)."""
    return sorted(
        Path(d, n)
        for d, dirs, names in os.walk(folder)
        for n in [*names, *(x for x in dirs if Path(d, x).is_symlink())]
    )


@pytest.fixture
def places(tmp_path: Path) -> tuple[Path, Path, Path]:
    """The export folder, a folder outside it (must stay empty), and the results folder."""
    exports, outside, results = tmp_path / "exports", tmp_path / "outside", tmp_path / "results"
    exports.mkdir()
    outside.mkdir()
    return exports, outside, results


@pytest.fixture
async def client(shared_sandbox: Sandbox, places: tuple[Path, Path, Path]) -> AsyncIterator[Client]:
    exports, _, results = places
    settings = remote_settings(shared_sandbox, export_dir=exports, results_dir=results)
    server = build_server(settings, services_factory=lambda: Services(settings, retry=FAST_RETRY))
    async with Client(server) as c:
        yield c


async def call(client: Client, name: str, args: dict[str, Any], **kw: Any) -> tuple[bool, str]:
    r = await client.call_tool(name, args, **kw)
    return bool(r.is_error), tool_text(r)


async def downloaded(client: Client, sb: Sandbox) -> str:
    r = await client.call_tool("download_outputs", {"batch_uuid": batch_of(sb), "limit": 0})
    assert not r.is_error, r.content
    return str((r.structured_content or {})["result_id"])


def swap_after_check(monkeypatch: pytest.MonkeyPatch, swap: Any) -> None:
    """Make the folder change right after save_result checked the path, before it writes (a concurrent swap)."""
    checked = export.target

    def target(*args: Any, **kwargs: Any) -> Path:
        path = checked(*args, **kwargs)
        swap()
        return path

    monkeypatch.setattr(export, "target", target)


def clean_error(name: str, text: str) -> None:
    """A deliberate tool error: a sentence after the SDK's prefix, no traceback."""
    assert text.startswith(f"Error executing tool {name}: ") and "Traceback" not in text, text


async def test_a_link_planted_at_the_old_temporary_name_is_never_followed(
    client: Client, shared_sandbox: Sandbox, places: tuple[Path, Path, Path]
) -> None:
    exports, outside, _ = places
    (exports / ".out.csv.partial").symlink_to(outside / "stolen.csv")
    result_id = await downloaded(client, shared_sandbox)
    failed, text = await call(client, "save_result", {"result_id": result_id, "path": "out.csv"})
    assert not failed, text
    assert files_in(outside) == []
    assert (exports / "out.csv").is_file() and not (exports / "out.csv").is_symlink()
    assert os.readlink(exports / ".out.csv.partial") == str(outside / "stolen.csv")  # left alone
    assert sorted(p.name for p in exports.iterdir()) == [".out.csv.partial", "out.csv"]  # no temporary file left


def stored(tmp_path: Path, rows: int = 3) -> tuple[ResultStore, str]:
    store = ResultStore(tmp_path / "results")
    meta = store.create(["a", "b"], ({"a": i, "b": f"v{i}"} for i in range(rows)), "test")
    return store, meta.result_id


def test_a_link_planted_at_the_random_temporary_name_is_an_error(
    tmp_path: Path, places: tuple[Path, Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    exports, outside, _ = places
    store, result_id = stored(tmp_path)
    monkeypatch.setattr(secrets, "token_hex", lambda n: "guessed")
    (exports / ".out.csv.guessed.partial").symlink_to(outside / "stolen.csv")
    with pytest.raises(InputError, match=r"already exists in .*possibly a planted link\); nothing was written"):
        export.write(store, result_id, exports / "out.csv", "csv")
    assert files_in(outside) == []
    assert sorted(p.name for p in exports.iterdir()) == [".out.csv.guessed.partial"]  # the link stays a link
    assert (exports / ".out.csv.guessed.partial").is_symlink()


async def test_the_folder_swapped_for_a_link_while_saving_writes_nothing(
    client: Client, shared_sandbox: Sandbox, places: tuple[Path, Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    exports, outside, _ = places
    (exports / "sub").mkdir()
    result_id = await downloaded(client, shared_sandbox)

    def swap() -> None:
        (exports / "sub").rename(exports / "sub-moved")
        (exports / "sub").symlink_to(outside, target_is_directory=True)

    swap_after_check(monkeypatch, swap)
    args = {"result_id": result_id, "path": "sub/out.csv", "format": "csv"}
    failed, text = await call(client, "save_result", args)
    assert failed, text
    clean_error("save_result", text)
    assert "was replaced or turned into a link while saving" in text and "nothing was written" in text
    assert str(outside) in text  # where it leads now
    assert files_in(outside) == [] and files_in(exports / "sub-moved") == []


async def test_the_export_root_swapped_for_a_link_writes_nothing(
    client: Client, shared_sandbox: Sandbox, places: tuple[Path, Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    exports, outside, _ = places
    result_id = await downloaded(client, shared_sandbox)

    def swap() -> None:
        exports.rename(exports.with_name("exports-moved"))
        exports.symlink_to(outside, target_is_directory=True)

    swap_after_check(monkeypatch, swap)
    failed, text = await call(client, "save_result", {"result_id": result_id, "path": "out.csv"})
    assert failed and "was replaced or turned into a link" in text, text
    assert files_in(outside) == [] and files_in(exports.with_name("exports-moved")) == []


def test_the_folder_swapped_while_the_file_is_written_writes_nothing(
    tmp_path: Path, places: tuple[Path, Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The swap lands after the folder was opened and checked: the check just before the rename catches it."""
    exports, outside, _ = places
    (exports / "sub").mkdir()
    store, result_id = stored(tmp_path, rows=2500)
    calls = 0

    def check() -> None:  # write() calls it every 1,000 rows: swap on the second call
        nonlocal calls
        calls += 1
        if calls == 2:
            (exports / "sub").rename(exports / "sub-moved")
            (exports / "sub").symlink_to(outside, target_is_directory=True)

    with pytest.raises(InputError, match="was replaced or turned into a link while saving"):
        export.write(store, result_id, exports / "sub" / "out.json", "json", check=check)
    assert calls == 3
    assert files_in(outside) == [] and files_in(exports / "sub-moved") == []  # the temporary file is gone too


def test_a_file_created_meanwhile_is_not_replaced_without_overwrite(
    tmp_path: Path, places: tuple[Path, Path, Path]
) -> None:
    exports, _, _ = places
    store, result_id = stored(tmp_path)
    target = export.target("out.csv", [exports], overwrite=False)
    target.write_text("someone else's")
    with pytest.raises(InputError, match="was created by someone else while saving; nothing was written"):
        export.write(store, result_id, target, "csv")
    assert target.read_text() == "someone else's" and [p.name for p in exports.iterdir()] == ["out.csv"]
    assert export.write(store, result_id, target, "csv", overwrite=True) == target.stat().st_size
    assert target.read_bytes().startswith(b"a,b\r\n0,v0\r\n")


@pytest.mark.parametrize(
    ("save_to", "message"),
    [
        ("a\x00b.csv", "contains a NUL character"),
        ("a" * 5000, "longer than 4,096 characters"),
        ("a" * 300 + ".csv", "cannot be used: File name too long"),
        ("/" + "a/" * 2500, "longer than 4,096 characters"),
        ("d/" * 1000 + "x.csv", "the folder of path"),
    ],
)
def test_bad_save_to_is_a_clipped_error(places: tuple[Path, Path, Path], save_to: str, message: str) -> None:
    exports, _, _ = places
    with pytest.raises(InputError) as e:
        export.target(save_to, [exports], overwrite=False)
    assert message in str(e.value)
    assert len(str(e.value)) < 400 and "\x00" not in str(e.value)
    if len(save_to) > 80:
        assert f"… ({len(save_to):,} characters)" in str(e.value)


async def test_bad_paths_through_the_tool(client: Client, shared_sandbox: Sandbox) -> None:
    result_id = await downloaded(client, shared_sandbox)
    for path in ("a\x00b.csv", "a" * 5000, "b" * 300 + ".csv"):
        failed, text = await call(client, "save_result", {"result_id": result_id, "path": path})
        assert failed
        clean_error("save_result", text)
        assert len(text) < 500


def test_a_long_non_ascii_name_fits_with_its_temporary_name(tmp_path: Path, places: tuple[Path, Path, Path]) -> None:
    exports, _, _ = places
    store, result_id = stored(tmp_path)
    name = "\U0001d51e" * 60 + ".csv"  # 244 bytes: a valid name, too long for a temporary name repeating it whole
    target = export.target(name, [exports], overwrite=False)
    assert export.write(store, result_id, target, "csv") == target.stat().st_size > 0
    assert [p.name for p in exports.iterdir()] == [name]
