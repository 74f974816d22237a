"""Notifications on case events: in-app rows for the accounts concerned, and a transactional
outbox of webhook deliveries sent after commit.

Who is told (in-app): the reporting account (if it was one) on every step but its own; the
case's department members when the case reaches them (dispatch, refused return, extension
decisions, rework, reopen, supervise, suspend, resume); the account that dispatched the case
when the department answers (return, extension request, feedback). Messages carry the case
number, category and state only, never a name, phone or description.

Webhooks (``Subscription``): each matching event becomes a ``WebhookDelivery`` row in the
event's own transaction (so an event that rolls back is never announced), and
:func:`deliver_pending` POSTs the exact stored JSON body with ``X-Yitu-Signature: sha256=<hex>``
= HMAC-SHA256(secret, ``"<timestamp>.<body>"``) and ``X-Yitu-Timestamp``; a non-2xx answer or a
network error is retried with exponential backoff up to ``webhook_max_attempts``. SMS or WeChat
gateways plug in as senders for their own ``channel`` (:func:`register_sender`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from yitu.access.scope import SCOPE_KEY, UNRESTRICTED
from yitu.cases.config import get_case_settings
from yitu.cases.models import (
    Case,
    CaseEvent,
    Category,
    Department,
    DepartmentMember,
    Notification,
    Subscription,
    WebhookDelivery,
)
from yitu.core.clock import as_utc
from yitu.core.db import Database

log = logging.getLogger(__name__)

TO_DEPARTMENT = frozenset(
    {"dispatch", "refuse_return", "approve_extension", "deny_extension", "rework", "reopen",
     "supervise", "suspend", "resume"}
)
TO_DISPATCHER = frozenset({"return", "request_extension", "feedback"})
_TRUSTED = {"yitu_trusted": True}


def _message(case: Case, ev: CaseEvent, category: Category | None) -> str:
    name = category.name_zh if category else case.category_code
    return f"案件 {case.number} ({name}): {ev.action} → {ev.to_state}"[:300]


def _dispatcher(session: Session, case: Case) -> int | None:
    return session.scalar(
        select(CaseEvent.actor_user_id)
        .where(CaseEvent.case_id == case.id, CaseEvent.action == "dispatch")
        .order_by(CaseEvent.seq.desc())
        .limit(1),
        execution_options=_TRUSTED,
    )


def recipients(session: Session, case: Case, ev: CaseEvent) -> set[int]:
    users: set[int] = set()
    if case.reporter_user_id is not None:
        users.add(case.reporter_user_id)
    if ev.action in TO_DEPARTMENT and case.department_id is not None:
        users.update(
            session.scalars(
                select(DepartmentMember.user_id).where(
                    DepartmentMember.department_id == case.department_id
                )
            )
        )
    if ev.action in TO_DISPATCHER:
        d = _dispatcher(session, case)
        if d is not None:
            users.add(d)
    return users


def payload(case: Case, ev: CaseEvent, dept: Department | None) -> dict[str, Any]:
    """The webhook body: no personal data (no reporter, no description)."""
    return {
        "event": ev.action,
        "event_id": ev.id,
        "seq": ev.seq,
        "at": as_utc(ev.at).isoformat(),
        "from_state": ev.from_state,
        "to_state": ev.to_state,
        "case": {
            "id": case.id,
            "number": case.number,
            "category": case.category_code,
            "state": case.state,
            "department": dept.code if dept else None,
            "lon": case.lon,
            "lat": case.lat,
            "due_at": as_utc(case.due_at).isoformat() if case.due_at else None,
            "external_ref": case.external_ref,
        },
    }


def on_event(session: Session, case: Case, ev: CaseEvent, *, actor_user_id: int | None) -> None:
    """Queue the in-app notifications and webhook deliveries of one event (same transaction)."""
    category = session.get(Category, case.category_id)
    message = _message(case, ev, category)
    for user_id in sorted(recipients(session, case, ev) - {actor_user_id} - {None}):
        session.add(
            Notification(
                user_id=user_id,
                case_id=case.id,
                event_id=ev.id,
                node_id=case.node_id,
                action=ev.action,
                message=message,
                created_at=ev.at,
            )
        )
    subs = list(session.scalars(select(Subscription).where(Subscription.active)))
    if not subs:
        return
    dept = session.get(Department, case.department_id) if case.department_id else None
    body = json.dumps(payload(case, ev, dept), ensure_ascii=False, sort_keys=True)
    for sub in subs:
        wanted = {a.strip() for a in sub.actions.split(",")}
        if "*" not in wanted and ev.action not in wanted:
            continue
        if sub.department_id is not None and sub.department_id != case.department_id:
            continue
        session.add(
            WebhookDelivery(
                subscription_id=sub.id,
                case_id=case.id,
                event_id=ev.id,
                payload=body,
                status="pending",
                attempts=0,
                next_attempt_at=ev.at,
            )
        )


# --- delivery ----------------------------------------------------------------------------


def sign(secret: str, timestamp: str, body: str) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.{body}".encode(), hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify_signature(secret: str, timestamp: str, body: str, signature: str) -> bool:
    """For receivers: constant-time check of ``X-Yitu-Signature``."""
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


Sender = Callable[[Subscription, WebhookDelivery, "httpx.Client"], None]


def send_webhook(sub: Subscription, delivery: WebhookDelivery, client: httpx.Client) -> None:
    ts = str(int(time.time()))
    event = json.loads(delivery.payload).get("event", "")
    response = client.post(
        sub.url,
        content=delivery.payload.encode(),
        headers={
            "Content-Type": "application/json; charset=utf-8",
            "X-Yitu-Event": event,
            "X-Yitu-Delivery": str(delivery.id),
            "X-Yitu-Timestamp": ts,
            "X-Yitu-Signature": sign(sub.secret, ts, delivery.payload),
        },
    )
    if not 200 <= response.status_code < 300:
        raise RuntimeError(f"HTTP {response.status_code}")


SENDERS: dict[str, Sender] = {"webhook": send_webhook}


def register_sender(channel: str, sender: Sender) -> None:
    """Plug in another channel (an SMS or WeChat gateway): subscriptions with this ``channel``
    are delivered by ``sender``, which raises on failure (then retried)."""
    SENDERS[channel] = sender


@dataclass
class DeliveryResult:
    delivered: int = 0
    retrying: int = 0
    failed: int = 0


def deliver_pending(
    db: Database, *, now: datetime | None = None, limit: int = 200
) -> DeliveryResult:
    """Send due deliveries (each in its own short transaction: a slow receiver holds no lock)."""
    settings = get_case_settings()
    result = DeliveryResult()
    at = as_utc(now) if now else datetime.now(UTC)
    with db.session(**{SCOPE_KEY: UNRESTRICTED}) as session:
        due = [
            (d.id, d.subscription_id)
            for d in session.scalars(
                select(WebhookDelivery)
                .where(WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= at)
                .order_by(WebhookDelivery.id)
                .limit(limit)
            )
        ]
    if not due:
        return result
    with httpx.Client(timeout=settings.webhook_timeout_s, follow_redirects=False) as client:
        for delivery_id, _ in due:
            with db.session(**{SCOPE_KEY: UNRESTRICTED}) as session:
                d = session.get(WebhookDelivery, delivery_id, with_for_update=True)
                if d is None or d.status != "pending":
                    continue
                sub = session.get(Subscription, d.subscription_id)
                sender = SENDERS.get(sub.channel) if sub else None
                d.attempts += 1
                try:
                    if sub is None or sender is None:
                        raise RuntimeError("no sender for this subscription's channel")
                    sender(sub, d, client)
                except Exception as exc:  # any failure is retried, then given up
                    d.last_error = f"{type(exc).__name__}: {exc}"[:300]
                    if d.attempts >= settings.webhook_max_attempts:
                        d.status = "failed"
                        result.failed += 1
                        log.warning("webhook delivery %s failed for good", d.id)
                    else:
                        backoff = settings.webhook_backoff_s * 2 ** (d.attempts - 1)
                        d.next_attempt_at = at + timedelta(seconds=backoff)
                        result.retrying += 1
                else:
                    d.status = "delivered"
                    d.delivered_at = datetime.now(UTC)
                    d.last_error = ""
                    result.delivered += 1
    return result
