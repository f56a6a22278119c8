"""ExportDocuments fans out per invoice with progress; scheduled automatic import (Celery beat).

End to end through the API and a real worker (tests/edo/conftest.py); the beat task is called
directly, as beat would run it, plus one check that the beat configuration loads into redbeat.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import orjson
from celery import Celery
from redis import asyncio as aioredis

from integrations.edo import auto_import
from tests.edo.test_didox import PASSWORD, PRODUCTS, _call, _invoices, _job, _outgoing, _tenant
from tests.fakes.regos_edo import add_firm, set_firm_settings
from tests.harness import Stack


def _watch(stack: Stack, task_id: str, timeout: float = 30.0) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Poll /tasks/{id} until final; also return every non-final view seen on the way."""
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        view = stack.task(task_id)
        if view["state"] in ("SUCCESS", "FAILURE"):
            return view, seen
        seen.append(view)
        time.sleep(0.02)
    raise AssertionError(f"task {task_id} not final: {seen[-1:]}")


def test_export_runs_one_task_per_invoice_with_progress_and_per_document_results(edo_stack: Stack) -> None:
    cid, firm_id, tin = _tenant(edo_stack)
    ids = _outgoing(edo_stack, firm_id, 3)
    first = _job(edo_stack, "ExportDocuments", cid, {"ids": ids[:1], "firm_id": firm_id})
    assert first["result"]["result"]["exported"] == 1, first
    # one invoice retries through a provider outage: the others are not redone meanwhile
    edo_stack.fakes["didox"].fail_next(
        2, 503, {"data": {"status": "error", "message": "maintenance"}}, path_contains="/v1/documents/002/create/"
    )
    missing = 987_654_321
    answer = _call(edo_stack, "ExportDocuments", cid, {"ids": [*ids, missing], "firm_id": firm_id})
    parent = answer["result"]["task_id"]
    view, seen = _watch(edo_stack, parent)
    assert view["state"] == "SUCCESS", view
    progress = [v["progress"] for v in seen if v["state"] == "PROGRESS"]
    assert progress and all(p["total"] == 4 for p in progress), seen
    assert view["children"] == [f"{parent}:{n}" for n in range(4)]
    assert all(edo_stack.task(child)["state"] == "SUCCESS" for child in view["children"])
    result = view["result"]["result"]
    counts = [result[k] for k in ("total", "exported", "skipped", "refused", "failed")]
    assert counts == [4, 2, 1, 1, 0], result
    rows = {row["invoice_id"]: row for row in result["documents"]}
    assert rows[ids[0]]["status"] == "skipped" and rows[ids[1]]["status"] == "exported"
    assert rows[missing]["status"] == "refused" and f"invoice {missing} not found" in rows[missing]["error"]
    assert view["result"]["ok"] is False  # one invoice was refused
    assert len(edo_stack.fakes["didox"].drafts_of(tin)) == 3  # one draft per invoice, none twice


def _poll_ids(stack: Stack, cid: str) -> list[str]:
    """Run the beat task once, as beat sends it (a message to the worker); the polls it enqueued."""
    from jobs import names
    from jobs.publish import Publisher

    async def send() -> str:
        client = aioredis.Redis.from_url(stack.env["REDIS_URL"])
        try:
            published = await Publisher(client, record_ttl=600).publish(
                names.EDO_AUTO_IMPORT, {}, argsrepr="beat tick", record={}
            )
        finally:
            await client.aclose()
        return published.task_id

    view = stack.wait_task(asyncio.run(send()))
    assert view["state"] == "SUCCESS", view
    return [task_id for task_id in view["result"] if task_id.startswith(f"edo-poll:edo_didox:{cid}:")]


def test_scheduled_task_enqueues_imports_of_new_documents_only(edo_stack: Stack) -> None:
    cid, firm_id, tin = _tenant(edo_stack)
    other_firm = firm_id + 1  # same connected integration, auto-import off for this firm
    add_firm(edo_stack.regos, other_firm, str(300_000_000 + other_firm))
    set_firm_settings(edo_stack.regos, cid, firm_id, {"DIDOX_PASSWORD": PASSWORD, "EDO_AUTO_IMPORT": "true"})
    didox = edo_stack.fakes["didox"]
    old_doc = didox.add_incoming(tin, "302936171", "ALFA", PRODUCTS)

    assert _poll_ids(edo_stack, cid) == []  # not connected yet: nothing polls it
    connected = _call(edo_stack, "Connect", cid, None)
    assert connected["ok"] is True, connected
    entry = edo_stack.redis.hget(auto_import.REGISTRY_KEY, f"edo_didox:{cid}")
    assert entry is not None and orjson.loads(entry) == [firm_id]
    assert 0 < edo_stack.redis.ttl(auto_import.REGISTRY_KEY) <= auto_import.REGISTRY_TTL

    [poll] = _poll_ids(edo_stack, cid)
    view = edo_stack.wait_task(poll)
    assert view["state"] == "SUCCESS" and view["result"] == {"enqueued": {str(firm_id): [old_doc]}, "refused": {}}
    new_doc = didox.add_incoming(tin, "302936172", "BETA", PRODUCTS)
    [poll] = _poll_ids(edo_stack, cid)
    view = edo_stack.wait_task(poll)
    assert view["result"]["enqueued"] == {str(firm_id): [new_doc]}, view  # old_doc not again

    deadline = time.monotonic() + 30
    while {i["status"] for i in _invoices(edo_stack, firm_id, "Income")} != {"Received"} or len(
        _invoices(edo_stack, firm_id, "Income")
    ) < 2:
        assert time.monotonic() < deadline, _invoices(edo_stack, firm_id, "Income")
        time.sleep(0.1)
    # the ordinary ImportDocument path is the same idempotent one
    again = _job(edo_stack, "ImportDocument", cid, {"id": old_doc, "firm_id": firm_id})
    assert again["result"]["result"]["already_imported"] is True
    assert sorted(i["external_code"] for i in _invoices(edo_stack, firm_id, "Income")) == sorted([old_doc, new_doc])

    off = _call(edo_stack, "Disconnect", cid, None)
    assert off["ok"] is True and edo_stack.redis.hget(auto_import.REGISTRY_KEY, f"edo_didox:{cid}") is None
    assert _poll_ids(edo_stack, cid) == []


def test_beat_schedule_loads_into_redbeat(redis_url: str) -> None:
    from redbeat import RedBeatScheduler
    from redbeat.schedulers import RedBeatSchedulerEntry, get_redis

    import celeryconfig
    import workers.tasks  # noqa: F401 - registers the tasks
    from jobs import names
    from workers.app import app as gateway

    beat = Celery("beat-check")
    beat.config_from_object("celeryconfig")
    beat.conf.redbeat_redis_url = redis_url.rsplit("/", 1)[0] + "/15"  # its keys stay out of the gateway's db
    assert beat.conf.beat_scheduler == "redbeat.RedBeatScheduler"
    RedBeatScheduler(app=beat)  # writes the configured schedule into Redis
    entry = RedBeatSchedulerEntry.from_key("gw:redbeat:edo-auto-import", app=beat)
    assert entry.task == names.EDO_AUTO_IMPORT in gateway.tasks
    assert entry.schedule.run_every.total_seconds() == celeryconfig.EDO_AUTO_IMPORT_INTERVAL_SECONDS
    assert names.QUEUE_OF_TASK[entry.task] in names.INTERACTIVE_QUEUES
    get_redis(beat).flushdb()
