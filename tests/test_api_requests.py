"""The request models (one class per endpoint, shared by the client and the sandbox) and the client's reading of
answers: every answer of an unexpected shape is a CargoShapeError naming where it differs."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from cargo_mcp.api import requests as rq
from cargo_mcp.api.client import CargoClient
from cargo_mcp.api.errors import CargoError, CargoShapeError

pytestmark = pytest.mark.anyio
WF = "3f2b1c9e-8d7a-4b6c-9e5f-1a2b3c4d5e6f"


def test_the_wire_is_what_the_official_client_sends() -> None:
    filters = rq.RunFilters.model_validate(  # a date and the filter's wire dict, validated into their types
        {
            "workflow_uuid": WF.upper(),
            "statuses": ["error"],
            "created_after": "2026-11-24",
            "created_before": datetime(2026, 11, 25, 8, 30, 1, 123456, tzinfo=UTC),
            "executions_filter": {"groups": [{"conditions": [{"nodeSlug": "enrich", "status": "error"}]}]},
        }
    )
    assert filters.wire() == {
        "workflowUuid": WF,
        "statuses": ["error"],
        "createdAfter": "2026-11-24T00:00:00.000Z",
        "createdBefore": "2026-11-25T08:30:01.123Z",
        "executionsFilter": {
            "conjonction": "and",
            "groups": [
                {"conjonction": "and", "conditions": [{"kind": "node", "nodeSlug": "enrich", "status": "error"}]}
            ],
        },
    }


def test_endpoints_that_share_filters_share_their_class() -> None:
    selection = set(rq.RunSelection.model_fields)
    for model in (rq.RunFilters, rq.ListRuns, rq.DownloadRuns, rq.DownloadRunOutputs):
        assert issubclass(model, rq.RunSelection) and selection <= set(model.model_fields)
    assert "is_finished" not in rq.DownloadRuns.model_fields  # production refuses it there
    assert {"limit", "offset"} <= set(rq.DownloadRunOutputs.model_fields) - set(rq.RunFilters.model_fields)
    assert "updated_after" not in rq.DownloadRunOutputs.model_fields


def test_received_bodies_take_camel_case_keys_only() -> None:
    with pytest.raises(rq.PayloadError, match=r"unrecognized_keys: workflow_uuid \(allowed keys: batchUuid"):
        rq.parse(rq.ListRuns, {"workflow_uuid": WF})
    with pytest.raises(rq.PayloadError, match="createdAfter: must be an ISO-8601 date"):
        rq.parse(rq.RunFilters, {"createdAfter": "last tuesday"})
    with pytest.raises(rq.PayloadError, match="workflowUuid: is required"):
        rq.parse(rq.RunMetrics, {})
    assert rq.parse(rq.ListRuns, {"workflowUuid": WF.upper(), "limit": 5}).workflow_uuid == WF


def client_answering(body: bytes) -> CargoClient:
    def reply(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=body, headers={"content-type": "application/json"})

    return CargoClient("http://cargo.test", "token", transport=httpx.MockTransport(reply))


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ([], "expected a JSON object, got an array"),
        (None, "expected a JSON object, got null"),
        ({}, "missing key 'count'"),
        ({"count": "many"}, "int: Input should be a valid integer"),
        ({"count": None}, "int: Input should be a valid integer"),
    ],
)
async def test_an_answer_of_another_shape_is_a_shape_error(body: Any, where: str) -> None:
    async with client_answering(json.dumps(body).encode()) as client:
        with pytest.raises(CargoShapeError) as caught:
            await client.count_runs(rq.RunFilters(workflow_uuid=WF))
    assert isinstance(caught.value, CargoError) and caught.value.where.startswith(where)
    assert str(caught.value).startswith("Cargo answered in a shape cargo-mcp does not understand (")
    assert "POST /orchestration/runs/count" in str(caught.value)


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({"batch": None}, "Batch: Input should be a valid dictionary"),
        ({"batch": {"uuid": "x"}}, "Batch.status: Field required"),  # the first field BatchBrief declares
        ({"batches": []}, "missing key 'batch'"),
    ],
)
async def test_a_model_that_does_not_fit_names_the_field(body: Any, where: str) -> None:
    async with client_answering(json.dumps(body).encode()) as client:
        with pytest.raises(CargoShapeError) as caught:
            await client.get_batch(WF)
    assert caught.value.where.startswith(where), caught.value.where


async def test_list_items_of_another_shape_are_shape_errors() -> None:
    async with client_answering(b'{"rows": [1, 2]}') as client:
        with pytest.raises(CargoShapeError, match=r"list\[dict\[str,any\]\]\.0: Input should be a valid dictionary"):
            await client.query("SELECT 1")
    async with client_answering(b'{"runs": {}, "count": 0}') as client:
        with pytest.raises(CargoShapeError, match=r"list\[Run\]: Input should be a valid list"):
            await client.list_runs(rq.ListRuns(workflow_uuid=WF))
