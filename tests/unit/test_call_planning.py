"""Call planning at the ingress (`api.calls.plan_call`): which task, what goes in the queue, the dedupe key."""

from __future__ import annotations

import pytest

from api.calls import plan_call
from api.errors import GatewayError
from integrations import registry
from jobs import names
from schemas.envelope import TaskEnvelope
from settings import Settings

CID = "d0000000000000000000000000000001"


@pytest.fixture
def settings() -> Settings:
    return Settings(
        environment="test",
        webhook_dedup_ttl_seconds=86_400,
        send_messages_dedup_window_seconds=300,
        lifecycle_wait_seconds=2.5,
    )


def envelope(client: str, action: str, data: object = None, event_id: str | None = None) -> TaskEnvelope:
    return TaskEnvelope(client=client, action=action, connected_integration_id=CID, data=data, event_id=event_id)


def test_a_webhook_goes_to_its_task_deduped_by_event_id(settings: Settings) -> None:
    call = envelope("getsms", "handle_webhook", {"action": "DocChequeClosed", "data": {"uuid": "x"}}, "evt-1")
    plan = plan_call(registry.INTEGRATIONS["getsms"], call, settings)
    assert plan.task_name == names.HANDLE_WEBHOOK
    assert plan.dedupe_key == f"gw:dedupe:getsms:{CID}:event:evt-1"
    assert plan.dedupe_ttl == 86_400
    assert plan.argsrepr == f"getsms {CID} handle_webhook DocChequeClosed event=evt-1"


def test_a_webhook_without_event_id_is_not_deduped(settings: Settings) -> None:
    call = envelope("getsms", "handle_webhook", {"action": "DocChequeClosed", "data": {}})
    assert plan_call(registry.INTEGRATIONS["getsms"], call, settings).dedupe_key is None


def test_a_malformed_webhook_is_refused_with_422(settings: Settings) -> None:
    with pytest.raises(GatewayError) as refused:
        plan_call(registry.INTEGRATIONS["getsms"], envelope("getsms", "handle_webhook", {"data": {}}), settings)
    assert refused.value.status == 422


def test_lifecycle_actions_never_queue_what_regos_sent_and_wait_for_the_answer(settings: Settings) -> None:
    call = envelope("getsms", "connect", {"password": "secret"})
    plan = plan_call(registry.INTEGRATIONS["getsms"], call, settings)
    assert plan.task_name == names.RUN_ACTION
    assert plan.envelope.data is None  # settings may hold secrets: the worker re-reads them from REGOS
    assert plan.wait_seconds == 2.5


def test_send_messages_keeps_valid_items_reports_invalid_ones_and_dedupes_by_content(settings: Settings) -> None:
    data = [{"recipient": "+998 90 123-45-67", "message": "Salom!"}, {"recipient": "nope", "message": "x"}]
    plan = plan_call(registry.INTEGRATIONS["getsms"], envelope("getsms", "send_messages", data), settings)
    assert plan.task_name == names.SEND_MESSAGES
    assert plan.message_count == 1
    assert [m["recipient"] for m in plan.envelope.data["messages"]] == ["998901234567"]
    assert len(plan.envelope.data["invalid"]) == 1
    assert plan.dedupe_key is not None and plan.dedupe_key.startswith(f"gw:dedupe:getsms:{CID}:content:")
    assert plan.dedupe_ttl == 300
    same = plan_call(registry.INTEGRATIONS["getsms"], envelope("getsms", "send_messages", data), settings)
    other = plan_call(
        registry.INTEGRATIONS["getsms"], envelope("getsms", "send_messages", [data[0] | {"message": "Hi"}]), settings
    )
    assert same.dedupe_key == plan.dedupe_key != other.dedupe_key


def test_send_messages_with_an_event_id_is_deduped_by_it(settings: Settings) -> None:
    data = [{"recipient": "998901234567", "message": "Salom!"}]
    plan = plan_call(registry.INTEGRATIONS["getsms"], envelope("getsms", "send_messages", data, "evt-9"), settings)
    assert (plan.dedupe_key, plan.dedupe_ttl) == (f"gw:dedupe:getsms:{CID}:event:evt-9", 86_400)


def test_send_messages_without_a_dedup_window_is_not_deduped(settings: Settings) -> None:
    data = [{"recipient": "998901234567", "message": "Salom!"}]
    no_window = settings.model_copy(update={"send_messages_dedup_window_seconds": 0})
    plan = plan_call(registry.INTEGRATIONS["getsms"], envelope("getsms", "send_messages", data), no_window)
    assert (plan.dedupe_key, plan.dedupe_ttl) == (None, 0)


def test_send_messages_with_no_valid_item_is_refused_with_the_problems(settings: Settings) -> None:
    data = [{"recipient": "nope", "message": "x"}]
    with pytest.raises(GatewayError) as refused:
        plan_call(registry.INTEGRATIONS["getsms"], envelope("getsms", "send_messages", data), settings)
    assert refused.value.status == 422 and "item 0" in str(refused.value.details)


def test_a_custom_action_keeps_its_data_and_summarises_it_for_flower(settings: Settings) -> None:
    spec = registry.INTEGRATIONS["edo_didox"]
    call = envelope("edo_didox", "export_documents", {"firm_id": 7, "ids": [1, 2, 3]})
    plan = plan_call(spec, call, settings)
    assert plan.task_name == names.RUN_ACTION
    assert plan.envelope.data == {"firm_id": 7, "ids": [1, 2, 3]}
    assert plan.argsrepr == f"edo_didox {CID} export_documents firm_id=7 ids[3] event=-"
    assert plan.wait_seconds == spec.custom["export_documents"].wait_seconds


def test_an_action_the_integration_does_not_support_is_refused_with_400(settings: Settings) -> None:
    with pytest.raises(GatewayError) as refused:
        plan_call(registry.INTEGRATIONS["getsms"], envelope("getsms", "export_documents", {}), settings)
    assert refused.value.status == 400
