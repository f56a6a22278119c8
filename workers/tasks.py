"""The gateway's Celery tasks. Names are a public contract (ingress, Flower, operators).

Each task only names its method and delegates to `workers.execution` (single calls) or
`workers.messages` (SendMessages fan-out): the logic lives in `integrations/` and `regos_sdk/`.
Every task is a `GatewayTask` (workers/gateway_task.py): one failure path, retry or dead letter.
"""

from __future__ import annotations

from typing import Any

from integrations import registry
from integrations.base import IntegrationBase
from jobs import names
from schemas.envelope import ExternalRequest, TaskEnvelope, WebhookCall
from workers import batch, edo_export, messages, schedule, status_poll
from workers.app import app
from workers.execution import execute
from workers.gateway_task import GatewayTask


async def _run_action(integration: IntegrationBase, envelope: TaskEnvelope) -> Any:
    if envelope.action == "update_settings":  # REGOS says settings changed: never serve stale ones
        async with integration.ctx.regos() as api:
            await api.integrations.connected_integration_setting.invalidate_cache()
    spec = registry.INTEGRATIONS[integration.ctx.client]
    if envelope.action in spec.custom:  # allow-listed by the registry: never an arbitrary attribute
        return await getattr(integration, envelope.action)(envelope.data)
    method = {
        "connect": integration.connect,
        "disconnect": integration.disconnect,
        "reconnect": integration.reconnect,
        "update_settings": integration.update_settings,
    }[envelope.action]
    return await method()


async def _handle_webhook(integration: IntegrationBase, envelope: TaskEnvelope) -> Any:
    return await integration.handle_webhook(WebhookCall.model_validate(envelope.data))


async def _handle_external(integration: IntegrationBase, envelope: TaskEnvelope) -> Any:
    return await integration.handle_external(ExternalRequest.model_validate(envelope.data))


@app.task(name=names.RUN_ACTION, bind=True, base=GatewayTask)
def run_action(self: GatewayTask, envelope: dict[str, Any]) -> Any:
    """Connect / Disconnect / Reconnect / UpdateSettings and integrations' custom actions (EDO)."""
    if envelope.get("action") == "export_documents":  # one task per invoice, progress under this id
        return edo_export.fan_out(self, envelope, edo_export_document)
    return execute(self, envelope, _run_action)


@app.task(name=names.EDO_EXPORT_DOCUMENT, bind=True, base=GatewayTask)
def edo_export_document(
    self: GatewayTask, envelope: dict[str, Any], bulk_id: str, document_no: int, invoice_id: int
) -> dict[str, Any]:
    """One invoice of an EDO ExportDocuments call; the last one stores the parent's result."""
    return edo_export.export_document(self, envelope, bulk_id, document_no, invoice_id)


@app.task(name=names.HANDLE_WEBHOOK, bind=True, base=GatewayTask)
def handle_webhook(self: GatewayTask, envelope: dict[str, Any]) -> Any:
    """A REGOS webhook (HandleWebhook); unsupported names end with an ok:false result."""
    return execute(self, envelope, _handle_webhook)


@app.task(name=names.HANDLE_WEBHOOK_BATCH, bind=True, base=GatewayTask)
def handle_webhook_batch(self: GatewayTask, client: str, connected_integration_id: str) -> dict[str, Any]:
    """The webhooks waiting for one connected integration, up to WEBHOOK_BATCH_MAX, in one
    `handle_webhooks` call; each event ends under its own id (retried or dead-lettered alone)."""
    return batch.run_batch(self, handle_webhook, client, connected_integration_id)


@app.task(name=names.HANDLE_EXTERNAL, bind=True, base=GatewayTask)
def handle_external(self: GatewayTask, envelope: dict[str, Any]) -> Any:
    """A provider's callback (Telegram update, SMS delivery report), already verified by the ingress."""
    return execute(self, envelope, _handle_external)


# The parent's own return value is not stored: the last chunk writes the aggregated result
# under the parent's id, so the id REGOS got shows PROGRESS and then the totals.
# Its events come from workers/events.py, so Flower shows PROGRESS until the last chunk is done.
@app.task(
    name=names.SEND_MESSAGES,
    bind=True,
    base=GatewayTask,
    ignore_result=True,
    store_errors_even_if_ignored=True,
    send_events=False,
)
def send_messages(self: GatewayTask, envelope: dict[str, Any]) -> Any:
    """SendMessages: split into provider-sized chunks, each its own task."""
    return messages.fan_out(self, envelope, send_message_chunk)


@app.task(name=names.SEND_MESSAGE_CHUNK, bind=True, base=GatewayTask)
def send_message_chunk(
    self: GatewayTask, envelope: dict[str, Any], bulk_id: str, chunk_no: int, messages_: list[dict[str, Any]]
) -> Any:
    """One chunk of a SendMessages call: at most one provider batch, guarded exactly-once."""
    return messages.send_chunk(self, envelope, bulk_id, chunk_no, messages_)


@app.task(name=names.POLL_SMS_STATUS, bind=True, base=GatewayTask)
def poll_sms_status(self: GatewayTask, envelope: dict[str, Any], request_ids: list[str], attempt: int = 0) -> Any:
    """Delivery statuses of accepted SMS from a provider that does not call back (GetSMS)."""
    return status_poll.poll(self, envelope, request_ids, attempt)


@app.task(name=names.EDO_AUTO_IMPORT, bind=True, base=GatewayTask)
def edo_auto_import(self: GatewayTask) -> list[str]:
    """Celery beat: enqueue one poll per EDO connected integration with auto-import on."""
    return schedule.enqueue_polls()


@app.task(name=names.EDO_POLL_IMPORTS, bind=True, base=GatewayTask)
def edo_poll_imports(self: GatewayTask, envelope: dict[str, Any]) -> Any:
    """New incoming documents of one EDO connected integration: enqueue their imports."""
    return schedule.poll(self, envelope)
