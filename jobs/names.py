"""Task names and the queue each one runs on.

Task names are the public, stable contract with the ingress, Flower and operators. Queues are
split by kind of work so that a 10,000-message blast on `messages` can never delay a webhook
(`celeryconfig.py` declares them to Celery; `jobs/publish.py` pushes straight onto them).
"""

from __future__ import annotations

RUN_ACTION = "integrations.run_action"
HANDLE_WEBHOOK = "integrations.handle_webhook"
HANDLE_WEBHOOK_BATCH = "integrations.handle_webhook_batch"  # the waiting webhooks of one connected integration
HANDLE_EXTERNAL = "integrations.handle_external"
SEND_MESSAGES = "integrations.send_messages"
SEND_MESSAGE_CHUNK = "integrations.send_message_chunk"
POLL_SMS_STATUS = "integrations.poll_sms_status"
EDO_EXPORT_DOCUMENT = "integrations.edo_export_document"
EDO_AUTO_IMPORT = "integrations.edo_auto_import"  # the beat task (workers/schedule.py)
EDO_POLL_IMPORTS = "integrations.edo_poll_imports"

QUEUE_OF_TASK = {
    RUN_ACTION: "lifecycle",
    HANDLE_WEBHOOK: "webhooks",
    HANDLE_WEBHOOK_BATCH: "webhooks",
    HANDLE_EXTERNAL: "external",
    SEND_MESSAGES: "messages",
    SEND_MESSAGE_CHUNK: "messages",
    POLL_SMS_STATUS: "messages",
    EDO_EXPORT_DOCUMENT: "messages",  # bulk work: an export of 100 invoices must not delay webhooks
    EDO_AUTO_IMPORT: "lifecycle",
    EDO_POLL_IMPORTS: "lifecycle",
}
INTERACTIVE_QUEUES = ("webhooks", "lifecycle", "external")
BULK_QUEUES = ("messages",)
QUEUES = (*INTERACTIVE_QUEUES, *BULK_QUEUES)
