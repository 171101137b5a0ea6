"""Journeys: what a model reads to answer three questions, through cargo-mcp against the steps Cargo's CLI
skill documents prescribe for the same question (scripted with the official client, one Node process per
command, every command's full output counted, and a downloaded file when the steps read it).

1. The output node of a named workflow.
2. Why a batch's runs failed, down to one failing run.
3. The first 100 output records of a batch, and a file with all of them.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from mcp import Client

from bench.cli_pattern import Cli
from bench.context import Run
from bench.interleave import median
from bench.report import Row, Section, Target
from cargo_mcp.server.app import build_server
from cargo_mcp.settings import Settings

BYTES_TARGET = 0.25
FIRST_RECORDS = 100


@dataclass
class Reading:
    """The steps of one path and the bytes each gave the model."""

    steps: list[tuple[str, int]] = field(default_factory=list)

    @property
    def bytes(self) -> int:
        return sum(b for _, b in self.steps)

    def biggest(self) -> str:
        return ", ".join(f"{name} {b:,} B" for name, b in sorted(self.steps, key=lambda s: -s[1])[:3])


class McpPath:
    """Tool calls through cargo-mcp; the model reads each answer's text."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.reading = Reading()
        self.last = ""  # the last answer's text

    async def __call__(self, tool: str, **args: Any) -> dict[str, Any]:
        r = await self.client.call_tool(tool, args)
        text = "".join(getattr(c, "text", "") for c in r.content)
        if r.is_error:
            raise RuntimeError(f"{tool} failed: {text[:500]}")
        self.reading.steps.append((tool, len(text.encode())))
        self.last = text
        return r.structured_content or {}

    def rows_shown(self, offset: int) -> int:
        """The first row the last answer's text did not show (it asked from ``offset``): the row its
        `[left out: rows[N:] …]` names, or past the `showing a-b` range."""
        left = re.search(r"\[left out: rows\[(\d+):\]", self.last)
        if left:
            return offset + int(left[1])
        shown = re.search(r"showing [\d,]+-([\d,]+)", self.last)
        if shown is None:
            raise RuntimeError(f"no row range in the answer: {self.last[:300]}")
        return int(shown[1].replace(",", ""))


class CliPath:
    """Commands of the CLI pattern; the model reads each command's output, and the files it fetches."""

    def __init__(self, cli: Cli) -> None:
        self.cli = cli
        self.reading = Reading()

    async def __call__(self, call: str, *args: Any) -> Any:
        out = await self.cli.run(call, *args)
        self.reading.steps.append((call.removeprefix("orchestration."), len(out)))
        return json.loads(out)

    async def fetch(self, url: str, *, read_lines: int | None = None) -> bytes:
        """`curl "$URL" > file`; the model reads the file, or its first ``read_lines`` lines (`head`)."""
        async with httpx.AsyncClient(timeout=300) as http:
            body = (await http.get(url)).raise_for_status().content
        read = body if read_lines is None else b"".join(body.splitlines(keepends=True)[:read_lines])
        self.reading.steps.append(("file" if read_lines is None else f"head -n {read_lines} of the file", len(read)))
        return body


@dataclass
class Journey:
    title: str
    mcp: Callable[[McpPath], Awaitable[None]]
    cli: Callable[[CliPath], Awaitable[None]]


def journeys(batch: dict[str, Any], name: str) -> list[Journey]:
    b, w = batch["uuid"], batch["workflowUuid"]

    async def nodes_mcp(m: McpPath) -> None:
        await m("get_workflow_nodes", workflow=name)

    async def nodes_cli(c: CliPath) -> None:
        tools = (await c("orchestration.tool.all"))["tools"]  # name → workflowUuid
        wf = next(t["workflowUuid"] for t in tools if t["name"] == name)
        workflows = (await c("orchestration.workflow.all"))["workflows"]  # → the deployed release
        release = next(x["deployedRelease"]["uuid"] for x in workflows if x["uuid"] == wf)
        await c("orchestration.release.get", release)  # → nodes[].slug

    async def failures_mcp(m: McpPath) -> None:
        report = await m("inspect_failures", batch_uuid=b)
        await m("get_run", run_uuid=report["error_groups"][0]["exemplar_runs"][0])

    async def failures_cli(c: CliPath) -> None:
        await c("orchestration.batch.get", b)  # step 1: the batch summary
        errors = {"workflowUuid": w, "batchUuid": b, "statuses": ["error"]}
        await c("orchestration.run.count", errors)  # step 2: count errors
        url = (await c("orchestration.run.download", errors))["url"]  # step 3: the failed runs, read in full
        first = json.loads((await c.fetch(url)).splitlines()[0])
        await c("orchestration.run.get", first["uuid"])  # one failing run

    async def records_mcp(m: McpPath) -> None:
        page = await m("download_outputs", batch_uuid=b, limit=FIRST_RECORDS)
        shown = m.rows_shown(0)
        while shown < FIRST_RECORDS:  # the text's budget left rows out: read them on, as the answer says
            await m("read_result", result_id=page["result_id"], offset=shown, limit=FIRST_RECORDS - shown)
            shown = m.rows_shown(shown)
        await m("save_result", result_id=page["result_id"], path=f"journey-{b}.csv", overwrite=True)

    async def records_cli(c: CliPath) -> None:
        release = (await c("orchestration.batch.get", b))["batch"]["releaseUuid"]
        nodes = (await c("orchestration.release.get", release))["release"]["nodes"]
        slug = next((n["slug"] for n in nodes if n["slug"] in ("output", "end")), nodes[-1]["slug"])
        url = (await c("orchestration.batch.download", {"uuid": b, "outputNodeSlug": slug}))["url"]
        await c.fetch(url, read_lines=FIRST_RECORDS + 1)  # the file kept; the header and 100 records read

    return [
        Journey("output node of a named workflow", nodes_mcp, nodes_cli),
        Journey("why a batch's runs failed, down to one run", failures_mcp, failures_cli),
        Journey(f"first {FIRST_RECORDS} output records of a batch + a file of all", records_mcp, records_cli),
    ]


def pick(run: Run) -> tuple[dict[str, Any], str]:
    """A finished tool batch with failed runs (the largest under 5,000 runs) and its tool's name."""
    sb = run.sandbox()
    tools = run.tool_workflows(sb)
    fit = [
        b
        for b in run.batches(sb)
        if b["workflowUuid"] in tools and b["status"] == "success" and b["failedRunsCount"] and b["runsCount"] < 5000
    ]
    batch = max(fit, key=lambda b: b["runsCount"])
    return batch, tools[batch["workflowUuid"]]


async def measure(run: Run) -> Section:
    sb = run.sandbox()
    batch, name = pick(run)
    rounds = run.n(3, 1)
    export = run.tmp / "export"
    export.mkdir(exist_ok=True)
    settings = Settings(token=sb.token, base_url=sb.url, results_dir=run.tmp / "results-journeys", export_dir=export)
    rows: list[Row] = []
    steps: list[str] = []
    async with Client(build_server(settings)) as client:
        for j in journeys(batch, name):
            times: dict[str, list[float]] = {"mcp": [], "cli": []}
            for _ in range(rounds):  # interleaved: cargo-mcp, then the CLI steps, each round
                m, c = McpPath(client), CliPath(run.cli())
                t = time.perf_counter()
                await j.mcp(m)
                times["mcp"].append(time.perf_counter() - t)
                t = time.perf_counter()
                await j.cli(c)
                times["cli"].append(time.perf_counter() - t)
            mine, theirs = m.reading, c.reading
            steps.append(
                f"{len(steps) + 1}. cargo-mcp: {' → '.join(s for s, _ in mine.steps)}; "
                f"CLI: {' → '.join(s for s, _ in theirs.steps)}."
            )

            def why(mine: Reading = mine, theirs: Reading = theirs) -> str:
                return f"cargo-mcp's largest answers: {mine.biggest()}; the CLI steps' largest: {theirs.biggest()}."

            calls = f"{len(mine.steps)} tool call{'s' * (len(mine.steps) > 1)} vs {len(theirs.steps)} CLI steps"
            rows += [
                Row(f"{j.title}: bytes read", mine.bytes, "B", theirs.bytes, "CLI steps",
                    Target("<=", BYTES_TARGET, "ratio", f"≤ {BYTES_TARGET:.0%} of the CLI steps"), note=calls, why=why),
                Row(f"{j.title}: time (cargo-mcp in memory)", median(times["mcp"]) * 1000, "ms",
                    median(times["cli"]) * 1000, "CLI steps"),
            ]  # fmt: skip
    return Section(
        "Journeys",
        rows,
        intro=(
            f"On a finished batch of {batch['runsCount']:,} runs ({batch['failedRunsCount']:,} failed) of the tool "
            f"{name!r}. cargo-mcp: the bytes of each tool answer's text (what a host shows the model). CLI steps: the "
            "commands Cargo's CLI skill documents give for the same question, run as the CLI pattern (one Node "
            "process per command, the official client), each command's full JSON output, plus the downloaded "
            f"file where the steps read it (journey 3 keeps the file and reads its first {FIRST_RECORDS} records, "
            f"as `head` would). Times: median of {rounds} interleaved round(s)."
        ),
        notes=["Steps:", "", *steps],
    )
