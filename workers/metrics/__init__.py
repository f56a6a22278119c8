"""Worker metrics (docs/operating.md lists which to alert on), one module per concern:

- `task_runs`: task attempts, from Celery's task signals —
  `gateway_worker_tasks_total{task,outcome}` (outcome `success`, `failure` (permanent:
  dead-lettered), `retry` (rescheduled), `revoked`, `rejected`),
  `gateway_worker_task_duration_seconds{task}`, `gateway_worker_task_retries_total{task}`,
  `gateway_worker_tasks_running{task}`; and SendMessages outcomes per integration key,
  `gateway_worker_messages_total{provider,outcome}` (`accepted`, `failed`, `unknown`, and
  `reconciled` / `resent`: earlier unknown outcomes settled by asking the provider / by sending
  again; also `accepted`).
- `outbound`: every HTTP call to REGOS and the providers, measured by a transport wrapper given to
  the clients where they are built —
  `gateway_worker_outbound_requests_total{target,outcome}` and
  `gateway_worker_outbound_request_duration_seconds{target}`.
- `endpoint`: the per-process `/metrics` HTTP endpoint on `WORKER_METRICS_PORT`.

The consumer heartbeat, which publishes the endpoint's port, is workers/heartbeat.py.
"""
