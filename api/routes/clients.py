"""REGOS actions (`POST /clients/{client}`) and provider callbacks (`.../external/...`)."""

from __future__ import annotations

import ipaddress
import logging
import re
import time
import uuid
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Path, Request, Response
from pydantic import ValidationError

from api.body import parse_any, parse_json_object, read_capped
from api.calls import Plan, enqueue, lifecycle_answer, plan_call, wait_for_result
from api.deps import Ingress, IngressDep
from api.errors import GatewayError
from integrations.registry import IntegrationSpec, resolve
from jobs import names
from logconfig import bind
from schemas.envelope import CONNECTED_INTEGRATION_ID, ExternalRequest, RegosCall, TaskEnvelope, canonical_action
from settings import Settings

router = APIRouter(tags=["clients"])
log = logging.getLogger("api.clients")

_CID = re.compile(CONNECTED_INTEGRATION_ID)
_SAFE_SEGMENT = re.compile(r"^[A-Za-z0-9._~-]{1,128}$")
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
        "authorization",
        "cookie",
    }
)

QUEUED_EXAMPLE = {"ok": True, "result": {"status": "queued", "task_id": "5f0c8c1e-3d2b-4c5e-9a1f-2b3c4d5e6f70"}}
CALL_EXAMPLES = {
    "webhook": {
        "summary": "HandleWebhook",
        "value": {
            "action": "HandleWebhook",
            "connected_integration_id": "11v5929ba236415hb31346ede021bdi4",
            "event_id": "evt-42",
            "data": {"action": "DocChequeClosed", "data": {"uuid": "c0ffee00-0000-0000-0000-000000000001"}},
        },
    },
    "send": {
        "summary": "SendMessages",
        "value": {
            "action": "SendMessages",
            "connected_integration_id": "11v5929ba236415hb31346ede021bdi4",
            "data": [{"recipient": "+998 90 123-45-67", "message": "Your order is ready"}],
        },
    },
    "connect": {
        "summary": "Connect (waits up to LIFECYCLE_WAIT_SECONDS)",
        "value": {"action": "Connect", "connected_integration_id": "11v5929ba236415hb31346ede021bdi4"},
    },
}
CALL_PARAMETERS = [
    {"name": "client", "in": "path", "required": True, "schema": {"type": "string", "maxLength": 64}},
    {"name": "connected-integration-id", "in": "header", "required": False, "schema": {"type": "string"}},
]
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"description": "Bad envelope or unknown action"},
    403: {"description": "Caller not allowed (REGOS_ALLOWED_IPS) or forged callback"},
    404: {"description": "Unknown client"},
    413: {"description": "Body larger than MAX_BODY_BYTES"},
    422: {"description": "`data` is not valid for the action"},
    503: {"description": "Not queued (Redis unavailable): deliver again"},
}


def _spec(client: str) -> tuple[str, IntegrationSpec]:
    resolved = resolve(client)
    if resolved is None:
        raise GatewayError(404, f"unknown client {client!r}: no integration is registered under this key")
    return resolved


def _check_caller(request: Request, settings: Settings) -> None:
    if not settings.regos_allowed_ips:
        return
    host = request.client.host if request.client else ""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise GatewayError(403, "caller address unknown; REGOS_ALLOWED_IPS is set") from None
    for allowed in settings.regos_allowed_ips.split(","):
        if allowed.strip() and address in ipaddress.ip_network(allowed.strip(), strict=False):
            return
    raise GatewayError(403, f"{host} is not in REGOS_ALLOWED_IPS")


def _answer(payload: dict[str, Any]) -> Response:
    # A ready Response skips FastAPI's response-model validation and jsonable_encoder: these
    # routes answer every REGOS call, and the payloads are plain JSON already.
    return Response(orjson.dumps(payload), media_type="application/json")


def _queued(task_id: str, duplicate: bool, *, handle: bool = False, counts: dict[str, int] | None = None) -> Response:
    result: dict[str, Any] = {"status": "queued", "task_id": task_id, **(counts or {})}
    if handle:  # REGOS's EDO methods read the job handle as `scheduler_uuid` (docs.regos.uz /ru/api/edo)
        result["scheduler_uuid"] = task_id
    if duplicate:
        result["duplicate"] = True
    return _answer({"ok": True, "result": result})


def _message_counts(plan: Plan) -> dict[str, int] | None:
    """SendMessages: the caller sees at once how many items were invalid (details in /tasks)."""
    if plan.message_count is None:
        return None
    return {"accepted_for_sending": plan.message_count, "invalid": len(plan.envelope.data["invalid"])}


def _request_id(request: Request, task_id: str | None = None) -> str:
    """The caller's X-Request-ID, or else the task's own id (one uuid per request, not two)."""
    given = request.headers.get("x-request-id", "")
    if _SAFE_SEGMENT.match(given):
        return given
    return task_id.replace("-", "") if task_id else uuid.uuid4().hex


@router.post(
    "/clients/{client}",
    summary="Run an action of an integration for a connected integration",
    responses={200: {"content": {"application/json": {"example": QUEUED_EXAMPLE}}}, **ERROR_RESPONSES},
    openapi_extra={
        "parameters": CALL_PARAMETERS,
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": RegosCall.model_json_schema(), "examples": CALL_EXAMPLES}},
        },
    },
)
async def call_client(request: Request) -> Response:
    """`HandleWebhook` and `SendMessages` are queued and answered at once. Lifecycle actions
    (`Connect`, `Disconnect`, `Reconnect`, `UpdateSettings`) are queued too, and the answer
    waits up to LIFECYCLE_WAIT_SECONDS for the worker's result."""
    # Read from the request, not declared as FastAPI parameters and dependencies: solving those
    # was 14 % of this route's CPU (perf_findings §3a); CALL_PARAMETERS documents them instead.
    ingress: Ingress = request.app.state.ingress
    settings = ingress.settings
    client = request.path_params["client"]
    if len(client) > 64:
        raise GatewayError(422, "request is not valid: path.client: String should have at most 64 characters")
    key, spec = _spec(client)
    _check_caller(request, settings)
    body = parse_json_object(await read_capped(request, settings.max_body_bytes))
    try:
        call = RegosCall.model_validate(body)
    except ValidationError as exc:
        problems = [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]
        raise GatewayError(400, "bad envelope: " + "; ".join(problems), details=problems) from None
    cid = call.connected_integration_id or request.headers.get("connected-integration-id")
    if not cid or not _CID.match(cid):
        raise GatewayError(
            400,
            "connected_integration_id (1-64 letters and digits) is required in the body or the "
            "connected-integration-id header",
        )
    action = canonical_action(call.action)
    if action is None or action not in spec.actions:
        allowed = ", ".join(sorted(spec.actions))
        raise GatewayError(400, f"unknown action {call.action[:64]!r} for {key}; allowed: {allowed}")
    action = spec.canonical_action(action)
    task_id = str(uuid.uuid4())
    envelope = TaskEnvelope(
        client=key,
        action=action,
        connected_integration_id=cid,  # opaque to us: passed on to REGOS exactly as REGOS sent it
        data=call.data,
        event_id=call.event_id,
        occurred_at=call.occurred_at,
        request_id=_request_id(request, task_id),
        received_at=time.time(),
    )
    with bind(
        request_id=envelope.request_id,
        client=key,
        connected_integration_id=envelope.connected_integration_id,
        action=action,
    ):
        plan: Plan = plan_call(spec, envelope, settings)
        published = await enqueue(ingress.publisher, plan, settings, task_id=task_id)
        log.info("queued %s task_id=%s duplicate=%s", plan.task_name, published.task_id, published.duplicate)
        if plan.task_name == names.RUN_ACTION and plan.wait_seconds > 0:
            meta = await wait_for_result(ingress.redis, published.task_id, plan.wait_seconds)
            if meta is not None:
                return _answer(lifecycle_answer(meta))
        background = spec.custom.get(action)
        return _queued(
            published.task_id,
            published.duplicate,
            handle=bool(background and background.background),
            counts=_message_counts(plan),
        )


def _external_path(path: str) -> list[str]:
    segments = [s for s in path.split("/") if s]
    if len(segments) > 16 or any(not _SAFE_SEGMENT.match(s) or s in {".", ".."} for s in segments):
        raise GatewayError(400, "external path must be plain segments of letters, digits and ._~-")
    return segments


async def _queue_external(
    request: Request, ingress: Ingress, client: str, cid: str, spec: IntegrationSpec | None, path: str
) -> Response:
    settings = ingress.settings
    if cid and not _CID.match(cid):
        raise GatewayError(400, "connected integration id must be 1-64 letters and digits")
    raw = await read_capped(request, settings.max_body_bytes)
    headers = {k.lower(): v for k, v in request.headers.items()}
    query = dict(request.query_params)
    guard = spec.external if spec else None
    if guard is not None and not guard.verify(settings.secret_key, cid, headers, query):
        log.warning("forged or unsigned callback for %s %s dropped", client, cid or "-")
        raise GatewayError(403, "callback signature is missing or wrong")
    body = parse_any(raw, headers.get("content-type", ""))
    secret_headers = set(guard.secret_headers) if guard else set()
    secret_params = set(guard.secret_params) if guard else set()
    external = ExternalRequest(
        method=request.method,
        path=path,
        query={k: v for k, v in query.items() if k not in secret_params},
        headers={k: v for k, v in headers.items() if k not in HOP_BY_HOP and k not in secret_headers},
        body=body,
    )
    envelope = TaskEnvelope(
        client=client,
        action="handle_external",
        connected_integration_id=cid,
        data=external.model_dump(),
        request_id=_request_id(request),
        received_at=time.time(),
    )
    provider_id = guard.dedupe_id(body) if guard else None
    plan = Plan(
        names.HANDLE_EXTERNAL,
        envelope,
        f"{client or '?'} {cid or '-'} external {request.method} /{path} id={provider_id or '-'}",
        f"gw:dedupe:{client}:{cid}:ext:{provider_id}" if provider_id else None,
        settings.webhook_dedup_ttl_seconds,
    )
    with bind(request_id=envelope.request_id, client=client, connected_integration_id=cid, action="handle_external"):
        published = await enqueue(ingress.publisher, plan, settings)
        log.info("queued external call task_id=%s duplicate=%s", published.task_id, published.duplicate)
    return _queued(published.task_id, published.duplicate)


EXTERNAL_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


async def external_for_client(
    client: Annotated[str, Path(max_length=64)],
    request: Request,
    ingress: IngressDep,
    path: str = "",
) -> Response:
    """Telegram updates, SMS delivery reports. The first path segment, when it has the id form,
    names the connected integration. Callbacks of integrations with a guard are verified
    without I/O (forged → 403, never queued); provider ids (Telegram `update_id`) deduplicate."""
    key, spec = _spec(client)
    if spec.external is None:
        raise GatewayError(404, f"{key} accepts no external calls")
    segments = _external_path(path)
    cid = segments[0] if segments and _CID.match(segments[0]) else ""
    return await _queue_external(request, ingress, key, cid, spec, "/".join(segments))


async def external_for_connection(
    connected_integration_id: str, request: Request, ingress: IngressDep, path: str = ""
) -> Response:
    """The worker learns the integration from `ConnectedIntegration/Get`. Integrations whose
    callbacks must be verified (Telegram, Eskiz) are refused on this form by the worker."""
    segments = _external_path(path)
    return await _queue_external(
        request,
        ingress,
        "",
        connected_integration_id,
        None,
        "/".join([connected_integration_id, *segments]),
    )


def _add_external_routes() -> None:
    """One route per method and path, so every operation has its own OpenAPI id."""
    queued = {200: {"content": {"application/json": {"example": QUEUED_EXAMPLE}}}, **ERROR_RESPONSES}
    routes = [
        ("/clients/{client}/external", external_for_client, "Provider callback for an integration"),
        ("/clients/{client}/external/{path:path}", external_for_client, "Provider callback for an integration"),
        ("/external/{connected_integration_id}", external_for_connection, "Provider callback by connection"),
        (
            "/external/{connected_integration_id}/{path:path}",
            external_for_connection,
            "Provider callback by connection",
        ),
    ]
    for path, endpoint, summary in routes:
        for method in EXTERNAL_METHODS:
            name = f"{endpoint.__name__}_{'path_' if '{path' in path else ''}{method.lower()}"
            router.add_api_route(
                path, endpoint, methods=[method], name=name, operation_id=name, summary=summary, responses=queued
            )


_add_external_routes()
