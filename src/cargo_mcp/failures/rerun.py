"""The re-run request: a batch of exactly the records still failing, in a data kind the workflow's type accepts."""

from __future__ import annotations

from typing import Any

from cargo_mcp.api.client import CargoClient
from cargo_mcp.api.errors import CargoError
from cargo_mcp.failures.inputs import Files, start_data
from cargo_mcp.failures.report import Rerun

RERUN_CAP = 1000  # records in one re-run body
# Batch-creation data kinds each workflow type accepts; Cargo refuses any other with invalidDataKind.
DATA_KINDS = {"play": ("segment", "change", "filter", "recordIds"), "tool": ("file", "records")}
_COST = " Fix the cause first; creating it costs credits."


async def rerun(
    client: CargoClient,
    files: Files,
    *,
    workflow_uuid: str,
    kind: str | None,
    model_uuid: str | None,
    failing: list[dict[str, Any]],
    still_failing: int,
    again: str,
) -> Rerun | None:
    """The batch for the ``failing`` rows (record_id, run_uuid of its latest failed run; at most RERUN_CAP + 1 of
    ``still_failing``). ``again``: the call that shows the rest when the body is capped."""
    if not still_failing:
        return None
    rows = failing[:RERUN_CAP]
    rest = still_failing - len(rows)
    capped = f" It holds the first {len(rows):,} by record id; for the other {rest:,}, once it ran: {again}."
    capped = capped if rest else ""
    kinds = DATA_KINDS.get(kind or "", ())
    takes = f"{kind}s take {', '.join(kinds[:-1])} or {kinds[-1]}" if kinds else ""
    if kind == "play" and model_uuid:
        ids = [str(r["record_id"]) for r in rows]
        body = {"workflowUuid": workflow_uuid, "data": {"kind": "recordIds", "modelUuid": model_uuid, "ids": ids}}
        note = f"recordIds of the {len(ids):,} record(s) still failing ({takes}).{capped}"
        return Rerun(records=len(ids), body=body, note=note + _COST)
    if kind == "tool":
        try:
            data = await start_data(client, files, workflow_uuid, [str(r["run_uuid"]) for r in rows])
        except (CargoError, ValueError) as e:
            why = f"the failed runs' start data could not be read ({e})"
            return Rerun(records=0, body=None, note=f"No body: {why}; call again.")
        records = [data[str(r["run_uuid"])] for r in rows if str(r["run_uuid"]) in data]
        body = {"workflowUuid": workflow_uuid, "data": {"kind": "records", "records": records}}
        note = (
            f"records: the start data of the {len(records):,} record(s) still failing, each from its latest failed "
            f"run ({takes})."
        )
        if len(records) < len(rows):
            note += f" {len(rows) - len(records):,} left out: their runs came without start data (see get_run)."
        return Rerun(records=len(records), body=body, note=note + capped + _COST)
    why = "the play's model is unknown" if kind == "play" else "not a tool or play (ad-hoc runs): no batch re-runs it"
    return Rerun(records=0, body=None, note=f"No body: {why}.")
