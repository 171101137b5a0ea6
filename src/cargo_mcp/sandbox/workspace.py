"""Deterministic synthetic Cargo workspaces (seeded; timestamps relative to ``now``).

The generator walks each run through its release's node graph, deciding every node's outcome
with :func:`catalog.decide`, so runs, executions, spans, batch counters and credits agree by
construction. Planted failure causes are tallied in :attr:`SandboxWorkspace.truth` so tests
can check what the API and SQL return against the exact expected counts.
"""

from __future__ import annotations

import random
import uuid as uuidlib
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from cargo_mcp.api.models import Node, Position
from cargo_mcp.sandbox import catalog, fakes
from cargo_mcp.sandbox.catalog import DAY, HOUR, NodeSpec, WorkflowSpec

MAIN_RUNS = 54_000
SMALL_RUNS = 1_600
_CREDITS = {"clearbit": 2.0, "apollo": 1.0, "hunter": 1.0, "zerobounce": 0.5, "slack": 0.0, "hubspot": 0.0}
_DURATION = {"native": (0.004, 0.05), "connector": (0.3, 2.8), "agent": (2.5, 18.0), "tool": (1.0, 8.0)}


@dataclass(slots=True, eq=False)
class ReleaseRec:
    uuid: str
    workflow_uuid: str
    version: str
    status: str
    nodes: list[Node]
    specs: tuple[NodeSpec, ...]
    user_uuid: str
    created_at: float
    deployed_at: float | None
    parent_uuid: str | None = None
    children: list[list[int]] = field(default_factory=list)  # node index -> child node indexes
    fallback: list[int | None] = field(default_factory=list)


@dataclass(slots=True, eq=False, repr=False)
class WorkflowRec:
    uuid: str
    spec: WorkflowSpec
    created_at: float
    tool_uuid: str | None = None
    play_uuid: str | None = None
    model_uuid: str | None = None
    segment_uuid: str | None = None
    releases: list[ReleaseRec] = field(default_factory=list)
    batches: list[BatchRec] = field(default_factory=list)

    def __repr__(self) -> str:  # the generated one would print the workflow's whole history
        return f"WorkflowRec({self.spec.key}, {self.uuid})"

    @property
    def deployed(self) -> ReleaseRec | None:
        return next((r for r in self.releases if r.status == "deployed"), None)


@dataclass(slots=True, eq=False, repr=False)
class BatchRec:
    uuid: str
    workflow: WorkflowRec
    release: ReleaseRec
    status: str
    data: dict[str, Any]
    created_at: float
    finished_at: float | None = None
    error_message: str | None = None
    runs_count: int = 0
    executed_runs_count: int = 0
    failed_runs_count: int = 0
    credits_used_count: float = 0.0
    runs_status: str | None = None
    temporal_workflow_id: str = ""

    def __repr__(self) -> str:
        return f"BatchRec({self.uuid}, {self.status}, {self.runs_count} runs)"


@dataclass(slots=True, eq=False)
class ExecRec:
    node: int
    status: str
    child_index: int | None
    next_node: int | None
    error: str | None
    title: str | None
    credits: float
    started_at: float
    finished_at: float | None


@dataclass(slots=True, eq=False, repr=False)
class RunRec:
    uuid: str
    workflow: WorkflowRec
    release: ReleaseRec
    batch: BatchRec | None
    record_id: str
    record_title: str
    status: str
    created_at: float
    updated_at: float
    finished_at: float | None
    trace_uuid: str
    key: str  # the fake record's key: record data and node outputs derive from it
    error_message: str | None = None
    credits: float = 0.0
    executions: list[ExecRec] = field(default_factory=list)

    def __repr__(self) -> str:
        return f"RunRec({self.uuid}, {self.status})"

    @property
    def adhoc(self) -> bool:
        return self.workflow.spec.kind == "adhoc"


@dataclass(eq=False, repr=False)
class SandboxWorkspace:
    uuid: str
    name: str
    token: str
    user_uuid: str
    user_email: str
    created_at: float
    now: float
    workflows: list[WorkflowRec] = field(default_factory=list)
    batches: list[BatchRec] = field(default_factory=list)
    runs: list[RunRec] = field(default_factory=list)
    truth: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __repr__(self) -> str:  # pytest prints test arguments on failure; 55,000 runs would take minutes
        return f"SandboxWorkspace({self.name!r}, {self.uuid}, {len(self.runs):,} runs)"

    def __post_init__(self) -> None:
        self.runs_by_uuid: dict[str, RunRec] = {}
        self.batches_by_uuid: dict[str, BatchRec] = {}
        self.releases_by_uuid: dict[str, ReleaseRec] = {}
        self.workflows_by_uuid: dict[str, WorkflowRec] = {}

    def index(self) -> None:
        """Build the lookups once generation is done (``runs`` sorted by creation time)."""
        self.runs_by_uuid = {r.uuid: r for r in self.runs}
        self.run_created = [r.created_at for r in self.runs]
        self.runs_of_workflow: dict[str, list[RunRec]] = defaultdict(list)
        self.runs_of_batch: dict[str, list[RunRec]] = defaultdict(list)
        latest: dict[tuple[str, str], RunRec] = {}
        for r in self.runs:
            self.runs_of_workflow[r.workflow.uuid].append(r)
            if r.batch is not None:
                self.runs_of_batch[r.batch.uuid].append(r)
            latest[(r.workflow.uuid, r.record_id)] = r
        self.records = sorted(latest.values(), key=lambda r: r.created_at)
        self.batches_by_uuid = {b.uuid: b for b in self.batches}
        self.workflows_by_uuid = {w.uuid: w for w in self.workflows}
        self.releases_by_uuid = {r.uuid: r for w in self.workflows for r in w.releases}


class _Gen:
    """One workspace's generator; all randomness flows from one seeded RNG."""

    def __init__(self, seed: int, now: float) -> None:
        self.rng = random.Random(seed)
        self.now = now

    def uuid(self) -> str:
        return str(uuidlib.UUID(int=self.rng.getrandbits(128), version=4))

    def hex(self, n: int) -> str:
        return f"{self.rng.getrandbits(4 * n):0{n}x}"


def build_workspace(
    *,
    seed: int,
    now: float,
    name: str,
    token: str | None,
    specs: tuple[WorkflowSpec, ...],
    total_runs: int,
    n_batches: int,
    adhoc_runs: int,
) -> SandboxWorkspace:
    """Generate one workspace: workflows, releases, batches, runs with executions, and the truth."""
    g = _Gen(seed, now)
    ws = SandboxWorkspace(
        uuid=g.uuid(),
        name=name,
        token=_token(g, token),
        user_uuid=g.uuid(),
        user_email=f"ops@{name.split()[0].lower()}.example",
        created_at=now - 400 * DAY,
        now=now,
    )
    truth: dict[str, dict[str, Any]] = {
        cause: {
            "workflow_key": wf,
            "node_slug": slug,
            "classification": cls,
            "runs": 0,
            "by_batch": defaultdict(int),
            "run_uuids": [],
        }
        for cause, (wf, slug, cls) in catalog.CAUSES.items()
    }
    ws.truth = truth
    for spec in specs:
        ws.workflows.append(_workflow(g, ws, spec))
    _batches(g, ws, total_runs, n_batches)
    if adhoc_runs:
        adhoc = _workflow(g, ws, catalog.ADHOC_ENRICH)
        ws.workflows.append(adhoc)
        for _ in range(adhoc_runs):
            created = now - g.rng.uniform(0.2 * HOUR, 7 * DAY)
            _run(g, ws, adhoc, adhoc.releases[0], None, f"adhoc-{g.hex(10)}", created, None)
    for t in truth.values():
        t["workflow_uuid"] = next((w.uuid for w in ws.workflows if w.spec.key == t["workflow_key"]), None)
        t["by_batch"] = dict(t["by_batch"])
    ws.runs.sort(key=lambda r: r.created_at)
    ws.index()
    return ws


def _workflow(g: _Gen, ws: SandboxWorkspace, spec: WorkflowSpec) -> WorkflowRec:
    wf = WorkflowRec(uuid=g.uuid(), spec=spec, created_at=ws.now - g.rng.uniform(60, 120) * DAY)
    if spec.kind == "tool":
        wf.tool_uuid = g.uuid()
    elif spec.kind == "play":
        wf.play_uuid, wf.model_uuid, wf.segment_uuid = g.uuid(), g.uuid(), g.uuid()
    v1_at, v2_at = ws.now - 45 * DAY, ws.now - 14 * DAY
    wf.releases.append(_release(g, ws, wf, spec.v1, "1", "archived", v1_at))
    if spec.kind != "adhoc":
        wf.releases.append(_release(g, ws, wf, spec.v2, "2", "deployed", v2_at))
        wf.releases[1].parent_uuid = wf.releases[0].uuid
    return wf


def _release(
    g: _Gen,
    ws: SandboxWorkspace,
    wf: WorkflowRec,
    specs: tuple[NodeSpec, ...],
    version: str,
    status: str,
    at: float,
) -> ReleaseRec:
    uuids = [g.uuid() for _ in specs]
    children = [[_resolve(specs, i, c) for c in s.children] for i, s in enumerate(specs)]
    fallback = [_resolve(specs, i, s.fallback) if s.fallback else None for i, s in enumerate(specs)]
    nodes = []
    depth = [0] * len(specs)
    for i, kids in enumerate(children):
        for k in kids:
            depth[k] = max(depth[k], depth[i] + 1)
    for i, s in enumerate(specs):
        extra: dict[str, Any] = {}
        if s.kind == "native":
            extra["action_slug"] = s.action
        elif s.kind == "connector":
            extra.update(action_slug=s.action, integration_slug=s.integration, connector_uuid=g.uuid())
        elif s.kind == "agent":
            extra.update(agent_uuid=g.uuid(), template_slug=None, wait_until_finished=True)
        elif s.kind == "tool":
            called = next(w for w in ws.workflows if w.spec.key == s.calls)
            extra.update(tool_uuid=called.tool_uuid, release_uuid=None, wait_until_finished=True)
        nodes.append(
            Node(
                uuid=uuids[i],
                slug=s.slug,
                kind=s.kind,  # type: ignore[arg-type]
                name=s.name,
                config=_node_config(s),
                children_uuids=[uuids[k] for k in children[i]],
                fallback_on_failure=fallback[i] is not None,
                fallback_child_uuid=uuids[fallback[i]] if fallback[i] is not None else None,  # type: ignore[index]
                position=Position(x=240 * depth[i], y=140 * (i - depth[i])),
                retry={"maximum_attempts": 3, "initial_interval": 1000, "backoff_coefficient": 2}  # type: ignore[arg-type]
                if s.kind == "connector"
                else None,
                **extra,
            )
        )
    return ReleaseRec(
        uuid=g.uuid(),
        workflow_uuid=wf.uuid,
        version=version,
        status=status,
        nodes=nodes,
        specs=specs,
        user_uuid=ws.user_uuid,
        created_at=at - 2 * HOUR,
        deployed_at=at,
        children=children,
        fallback=fallback,
    )


def _resolve(specs: tuple[NodeSpec, ...], at: int, slug: str) -> int:
    """Child slug -> index: the first node with that slug after ``at`` (slugs may repeat)."""
    for j in range(at + 1, len(specs)):
        if specs[j].slug == slug:
            return j
    return next(j for j, s in enumerate(specs) if s.slug == slug)


def _node_config(s: NodeSpec) -> dict[str, Any]:
    if s.action == "filter":
        return {"condition": "{{nodes.start.domain != ''}}"}
    if s.action == "branch":
        return {"condition": "{{nodes.qualify.answer.qualified}}"}
    if s.kind == "connector":
        return {"domain": "{{nodes.start.domain}}"}
    if s.kind == "agent":
        return {"prompt": "Qualify {{nodes.start.company_name}} against our ICP.", "maxSteps": 8}
    if s.kind == "tool":
        return {"data": {"first_name": "{{nodes.start.first_name}}", "domain": "{{nodes.start.domain}}"}}
    if s.action == "end":
        return {"variables": {"result": "{{nodes}}"}}
    return {}


def _schedule(g: _Gen, ws: SandboxWorkspace, n_batches: int) -> list[tuple[float, WorkflowRec]]:
    """Batch start times over 30 days, workflows interleaved by weight (each gets >= 3 batches)."""
    wfs = [w for w in ws.workflows if w.spec.kind != "adhoc"]
    weights = [w.spec.runs_weight for w in wfs]
    picks = [w for w in wfs for _ in range(3)]
    while len(picks) < n_batches:
        picks.append(g.rng.choices(wfs, weights)[0])
    g.rng.shuffle(picks)
    span = 30 * DAY - 2 * HOUR
    return [
        (ws.now - 30 * DAY + i * span / (n_batches - 1) + g.rng.uniform(0, HOUR), w)
        for i, w in enumerate(picks[:n_batches])
    ]


def _batches(g: _Gen, ws: SandboxWorkspace, total_runs: int, n_batches: int) -> None:
    plan = _schedule(g, ws, n_batches)
    per_wf: dict[str, int] = defaultdict(int)
    for _, w in plan:
        per_wf[w.uuid] += 1
    last = len(plan) - 1
    special: dict[int, str] = {last: "running"}
    for key, kind, target in (
        ("crm_hygiene", "error", 10),
        ("lead_scorer", "cancelled", 5),
        ("contact_finder", "rate_limited", 3),
    ):
        cands = [i for i, (_, w) in enumerate(plan) if w.spec.key == key and i != last and i not in special]
        if cands:
            special[min(cands, key=lambda i: abs(plan[i][0] - (ws.now - target * DAY)))] = kind
    for i, (created, wf) in enumerate(plan):
        kind = special.get(i, "normal")
        if kind == "running":
            created = ws.now - 35 * 60
        release = wf.releases[1] if created >= wf.releases[1].deployed_at else wf.releases[0]  # type: ignore[operator]
        n_runs = int(total_runs * wf.spec.runs_weight / per_wf[wf.uuid] * g.rng.uniform(0.8, 1.2))
        batch = BatchRec(
            uuid=g.uuid(),
            workflow=wf,
            release=release,
            status="success",
            data=_batch_data(g, wf),
            created_at=created,
            temporal_workflow_id=f"batch-{g.hex(24)}",
        )
        wf.batches.append(batch)
        ws.batches.append(batch)
        if kind == "error":
            batch.status, batch.finished_at = "error", created + 300
            batch.error_message = "Failed to query segment: the warehouse connection timed out after 300 s."
            continue
        spacing = 3500.0 / max(n_runs, 1) if kind == "running" else g.rng.uniform(0.8, 2.0)
        length = n_runs * spacing  # the burst covers 15% of the batch's span: clustered in time
        burst = (created + 0.35 * length, created + 0.5 * length) if kind == "rate_limited" else None
        cutoff = created + 0.4 * length if kind == "cancelled" else None
        pool = max(50, int(total_runs * wf.spec.runs_weight * 0.6))
        first = len(ws.runs)
        for j in range(n_runs):
            key = f"{wf.spec.key}-{g.rng.randrange(pool)}"
            _run(g, ws, wf, release, batch, key, created + 5 + j * spacing, burst, cutoff)
        _close_batch(batch, ws.runs[first:], kind, cutoff)


def _batch_data(g: _Gen, wf: WorkflowRec) -> dict[str, Any]:
    if wf.spec.kind == "play":
        return {"kind": "segment", "segmentUuid": wf.segment_uuid}
    return {"kind": "file", "s3Filename": f"uploads/{g.hex(16)}.csv", "mappings": None}


def _close_batch(b: BatchRec, runs: list[RunRec], kind: str, cutoff: float | None) -> None:
    b.runs_count = len(runs)
    b.executed_runs_count = sum(r.status in ("success", "error") for r in runs)
    b.failed_runs_count = sum(r.status == "error" for r in runs)
    b.credits_used_count = round(sum(r.credits for r in runs), 2)
    if kind == "running":
        b.status = "running"
        return
    if kind == "cancelled":
        b.status, b.finished_at = "cancelled", cutoff
    else:
        b.finished_at = max((r.finished_at or b.created_at) for r in runs) if runs else b.created_at + 60
    rate = b.failed_runs_count / b.runs_count if b.runs_count else 0.0
    b.runs_status = "unhealthy" if rate > 0.05 else "healthy"


def _token(g: _Gen, given: str | None) -> str:
    """The workspace token; the random one is drawn either way so that ``--token`` changes no other data."""
    generated = f"cargo_sbx_{g.hex(32)}"
    return given or generated


def _run(
    g: _Gen,
    ws: SandboxWorkspace,
    wf: WorkflowRec,
    rel: ReleaseRec,
    batch: BatchRec | None,
    key: str,
    created: float,
    burst: tuple[float, float] | None,
    cutoff: float | None = None,
) -> None:
    kind = wf.spec.record_kind
    rid = key if key.startswith("adhoc") else f"rec_{fakes.digest(wf.spec.key, key):012x}"
    title = fakes.record_title(kind, key)
    run = RunRec(
        uuid=g.uuid(),
        workflow=wf,
        release=rel,
        batch=batch,
        record_id=rid,
        record_title=title,
        status="pending",
        created_at=created,
        updated_at=created,
        finished_at=None,
        trace_uuid=g.uuid(),
        key=key,
    )
    ws.runs.append(run)
    if cutoff is not None and created > cutoff:
        run.status, run.updated_at, run.finished_at = "cancelled", cutoff, cutoff
        return
    if created > ws.now:  # not started yet: enrolled by its batch already, so created in the past
        enrolled = batch.created_at if batch else ws.now
        run.created_at = run.updated_at = max(enrolled, ws.now - (created - ws.now) % 300)
        return
    company = fakes.company(key)
    t = created + g.rng.uniform(0.05, 1.5)
    idx: int | None = 0
    run.status = "success"
    while idx is not None:
        spec = rel.specs[idx]
        lo, hi = _DURATION[spec.kind]
        end = t + g.rng.uniform(lo, hi)
        if t > ws.now:
            run.status = "running"
            break
        if end > ws.now:
            run.executions.append(ExecRec(idx, "pending", None, None, None, None, 0.0, t, None))
            run.status = "running"
            break
        cause, err = catalog.decide(
            catalog.Situation(
                wf.spec.key,
                spec.slug,
                t,
                ws.now,
                burst,
                bool(company["domain"]),
                g.rng.random(),
            )
        )
        kids = rel.children[idx]
        if cause == "fallback_absorbed" and rel.fallback[idx] is None:
            cause, err = None, None
        if cause is not None:
            _tally(ws, cause, run)
        if cause == "filter_stop":
            run.executions.append(ExecRec(idx, "success", None, None, None, "❌ Condition is not matched", 0.0, t, end))
            idx = None
        elif err is not None:
            fb = rel.fallback[idx]
            run.executions.append(ExecRec(idx, "error", None, fb, err, f"❌ {err[:80]}", 0.0, t, end))
            if fb is None:
                run.status, run.error_message = "error", err
            idx = fb
        else:
            child = 0
            if spec.action == "branch":
                child = 0 if _branch_yes(wf.spec.key, spec.slug, company, key) else 1
            nxt = kids[child] if kids else None
            credits = _credits(g, spec)
            title = _title(spec, child)
            run.executions.append(ExecRec(idx, "success", child if kids else None, nxt, None, title, credits, t, end))
            run.credits += credits
            idx = nxt
        t = end + g.rng.uniform(0.01, 0.2)
    last = run.executions[-1].finished_at if run.executions else None
    run.updated_at = (last or run.executions[-1].started_at) if run.executions else created
    if run.status in ("success", "error"):
        run.finished_at = last
    run.credits = round(run.credits, 2)


def _tally(ws: SandboxWorkspace, cause: str, run: RunRec) -> None:
    t = ws.truth[cause]
    t["runs"] += 1
    if run.batch is not None:
        t["by_batch"][run.batch.uuid] += 1
    if len(t["run_uuids"]) < 5:
        t["run_uuids"].append(run.uuid)


def _branch_yes(workflow: str, slug: str, company: dict[str, Any], key: str) -> bool:
    if slug == "is_b2b":
        return bool(company["is_b2b"])
    out = fakes.node_output(
        workflow,
        "verify_email" if slug == "is_valid" else "qualify",
        "verifyEmail" if slug == "is_valid" else "agent",
        {},
        key,
    )
    return out.get("status") == "valid" if slug == "is_valid" else bool(out["answer"]["qualified"])


def _credits(g: _Gen, spec: NodeSpec) -> float:
    if spec.kind == "connector":
        return _CREDITS.get(spec.integration or "", 1.0)
    if spec.kind == "agent":
        return round(2 + g.rng.random() * 4, 2)
    if spec.kind == "tool":
        return 1.5
    return 0.0


def _title(spec: NodeSpec, child: int) -> str:
    if spec.action == "filter":
        return "✅ Condition is matched"
    if spec.action == "branch":
        return "✅ Yes" if child == 0 else "❌ No"
    return f"✅ {spec.name or spec.slug}"


# The fields of a node an execution (a span) names it by, prefixed ``node_``.
NODE_FIELDS = ("action_slug", "connector_uuid", "integration_slug", "agent_uuid", "tool_uuid")


def s3(run: RunRec, what: str) -> str:
    """The object key of a run's ``context`` or ``computed-configs`` file, as Cargo names it."""
    return f"workspaces/{run.workflow.uuid}/runs/{run.uuid}/{what}.json"


def record_status(run_status: str) -> str:
    """RecordStatus has no ``idle``/``skipped``: map them to ``pending``/``cancelled``."""
    return {"idle": "pending", "skipped": "cancelled"}.get(run_status, run_status)


def context_of(run: RunRec) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(runContext, runComputedConfigs)`` of a run, keyed by node slug (derived, deterministic)."""
    spec = run.workflow.spec
    key = run.key
    data = fakes.record_input(spec.record_kind, key)
    ctx: dict[str, Any] = {}
    cfg: dict[str, Any] = {}
    for e in run.executions:
        s = run.release.specs[e.node]
        if e.status == "pending":
            continue
        if e.status == "error":
            ctx[s.slug] = {"error": {"message": e.error, "node": s.slug}}
        elif s.action == "filter":
            ctx[s.slug] = {"condition": e.next_node is not None}
        elif s.action == "branch":
            ctx[s.slug] = {"condition": e.child_index == 0}
        elif s.action == "end":
            ctx[s.slug] = fakes.end_output(ctx)
        elif s.kind == "tool":  # the called tool's output (the sandbox's only tool node calls the finder)
            ctx[s.slug] = fakes.node_output(s.calls or spec.key, s.slug, "findEmail", data, key)
        else:
            ctx[s.slug] = fakes.node_output(spec.key, s.slug, s.action, data, key)
        cfg[s.slug] = _computed_config(s, data)
    return ctx, cfg


def _computed_config(s: NodeSpec, data: dict[str, Any]) -> dict[str, Any]:
    if s.kind == "connector":
        return {"domain": data.get("domain", ""), "integration": s.integration}
    if s.kind == "agent":
        return {
            "prompt": f"Qualify {data.get('company_name')} against our ICP.",
            "maxSteps": 8,
            "model": "gpt-4.1",
        }
    if s.kind == "tool":
        return {"data": {"first_name": data.get("first_name"), "domain": data.get("domain", "")}}
    if s.action in ("filter", "branch"):
        return {"condition": bool(data.get("domain"))}
    return {}


def build_sandbox(
    *, seed: int = 7, now: float, scale: float = 1.0, tokens: tuple[str | None, str | None] = (None, None)
) -> list[SandboxWorkspace]:
    """The default sandbox: a large main workspace and a small second one (for isolation)."""
    main = build_workspace(
        seed=seed,
        now=now,
        name="Acme Revenue",
        token=tokens[0],
        specs=catalog.MAIN_WORKFLOWS,
        total_runs=int(MAIN_RUNS * scale),
        n_batches=36,
        adhoc_runs=150,
    )
    small = build_workspace(
        seed=seed + 1,
        now=now,
        name="Globex Sales",
        token=tokens[1],
        specs=catalog.SMALL_WORKFLOWS,
        total_runs=SMALL_RUNS,
        n_batches=8,
        adhoc_runs=0,
    )
    return [main, small]
