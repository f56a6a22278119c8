"""The queue contract shared by the ingress (`api/`) and the workers (`workers/`).

Task names and the queue of each, the publisher, task records, bulk progress, the dead-letter and
held-message stores, replay and the consumer heartbeat keys: everything both sides must agree on,
in plain Redis and orjson. Nothing here loads Celery or kombu, so the ingress stays light
(`make lint` checks it with import-linter).
"""
