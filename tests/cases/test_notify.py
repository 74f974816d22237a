"""Warnings, 督办 and notifications: the sweep, in-app notifications, and webhooks delivered to a
real local HTTP server (HMAC signature checked by the receiver, a failure retried)."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from sqlalchemy import select

from cases.conftest import IN_A, CasesWorld
from yitu.access.roles import Role
from yitu.cases import notify, services
from yitu.cases.models import Notification, Subscription, Supervision, WebhookDelivery

SECRET = "webhook-secret-0123456789"


def _case(cw: CasesWorld, at: Any, category: str = "E0102") -> int:
    with cw.session() as s:
        return services.submit_report(s, category_code=category, lon=IN_A[0], lat=IN_A[1],
                                      description="垃圾", source="citizen", at=at,
                                      evidence_dir=cw.evidence_dir).id


def test_sweep_yellow_red_and_one_supervision(fresh_cases: CasesWorld) -> None:
    cw = fresh_cases
    t0 = cw.world.clock.now()  # Thursday 17:00 Beijing; 受理 within 4 working hours
    cid = _case(cw, t0)
    with cw.session() as s:
        c = services.get_case(s, cid)
        warn, due = c.warn_at, c.due_at
    with cw.session() as s:
        assert services.sweep(s, at=warn - timedelta(minutes=1)).yellow == 0
    with cw.session() as s:
        r = services.sweep(s, at=warn + timedelta(minutes=1))
        assert (r.yellow, r.red) == (1, 0)
        assert services.get_case(s, cid).warning_level == "yellow"
    for _ in range(2):  # idempotent: one 督办 per stage deadline
        with cw.session() as s:
            services.sweep(s, at=due + timedelta(minutes=1))
    with cw.session() as s:
        c = services.get_case(s, cid)
        assert c.warning_level == "red" and c.supervision_count == 1
        (sv,) = s.scalars(select(Supervision).where(Supervision.case_id == cid))
        assert sv.reason == "overdue" and sv.stage == "accept"
        events = services.case_events(s, cid)
        assert events[-1].action == "supervise" and events[-1].actor_external == "system:sweep"
    # acting on the case starts the next stage's clock and clears the light
    op = cw.principal(Role.OPERATOR)
    with cw.session(Role.OPERATOR) as s:
        c = services.transition(s, cid, "accept", actor=op, at=due + timedelta(minutes=2))
        assert c.warning_level == "none" and c.stage == "verify"
    with cw.session() as s:  # the overdue stage is over: its 督办 is resolved
        (sv,) = s.scalars(select(Supervision).where(Supervision.case_id == cid))
        assert sv.resolved_at is not None


def test_in_app_notifications(fresh_cases: CasesWorld) -> None:
    cw = fresh_cases
    t = cw.world.clock.now()
    gw = cw.principal(Role.GRID_WORKER)
    with cw.session(Role.GRID_WORKER) as s:
        cid = services.submit_report(s, category_code="E0104", lon=IN_A[0], lat=IN_A[1],
                                     description="路面油污", source="grid_worker", actor=gw,
                                     reporter={"name": "王五", "phone": "13911112222"},
                                     at=t, evidence_dir=cw.evidence_dir).id
    op, dh = cw.principal(Role.OPERATOR), cw.principal(Role.DEPT_HANDLER)
    for action, who in (("accept", op), ("register", op), ("dispatch", op)):
        with cw.session() as s:
            services.transition(s, cid, action, actor=who, at=t)
    with cw.session() as s:
        services.transition(s, cid, "handle", actor=dh, at=t)
        services.transition(s, cid, "feedback", actor=dh, at=t)
    with cw.session() as s:
        def inbox(user: int) -> list[str]:
            return [n.action for n in s.scalars(select(Notification).where(
                Notification.user_id == user).order_by(Notification.id))]

        assert inbox(gw.user_id) == ["accept", "register", "dispatch", "handle", "feedback"]
        assert inbox(dh.user_id) == ["dispatch"]  # the case reached the department
        assert inbox(op.user_id) == ["feedback"]  # the dispatcher hears back
        msgs = [n.message for n in s.scalars(select(Notification))]
        assert all("13911112222" not in m and "王五" not in m for m in msgs)


class _Receiver(BaseHTTPRequestHandler):
    received: list[dict[str, Any]] = []  # noqa: RUF012
    fail_first = True

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"])).decode()
        ok = notify.verify_signature(SECRET, self.headers["X-Yitu-Timestamp"], body,
                                     self.headers["X-Yitu-Signature"])
        if type(self).fail_first:
            type(self).fail_first = False
            self.send_response(503)
            self.end_headers()
            return
        type(self).received.append({"ok": ok, "body": json.loads(body),
                                    "event": self.headers["X-Yitu-Event"]})
        self.send_response(204)
        self.end_headers()

    def log_message(self, *_: Any) -> None:
        pass


def test_webhook_signed_retried_delivered(fresh_cases: CasesWorld) -> None:
    cw = fresh_cases
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        t = cw.world.clock.now()
        with cw.session() as s:
            s.add(Subscription(name="ops-bridge", url=f"http://127.0.0.1:{server.server_port}/h",
                               secret=SECRET, actions="report,accept", created_at=t))
        cid = _case(cw, t)
        with cw.session() as s:
            services.transition(s, cid, "accept", actor=cw.principal(Role.OPERATOR), at=t)
            services.transition(s, cid, "reject", actor=cw.principal(Role.OPERATOR), at=t,
                                note="非城管事项")  # not subscribed: no delivery
        first = notify.deliver_pending(cw.platform.db)
        assert (first.delivered, first.retrying) == (1, 1)  # the first POST got a 503
        with cw.session() as s:
            retry = s.scalar(select(WebhookDelivery).where(WebhookDelivery.status == "pending"))
            assert retry is not None and retry.attempts == 1 and "503" in retry.last_error
            due = retry.next_attempt_at
        assert notify.deliver_pending(cw.platform.db).delivered == 0  # not due yet
        assert notify.deliver_pending(cw.platform.db, now=due).delivered == 1
        got = _Receiver.received
        assert [r["event"] for r in got] == ["accept", "report"] or \
            sorted(r["event"] for r in got) == ["accept", "report"]
        assert all(r["ok"] for r in got)
        body = got[0]["body"]
        assert body["case"]["id"] == cid and "reporter" not in json.dumps(body)
    finally:
        server.shutdown()


def test_webhook_gives_up_after_max_attempts(fresh_cases: CasesWorld) -> None:
    cw = fresh_cases
    t = cw.world.clock.now()
    with cw.session() as s:
        s.add(Subscription(name="dead", url="http://127.0.0.1:9/never", secret=SECRET,
                           created_at=t))
    _case(cw, t)
    now = t
    for _ in range(5):
        notify.deliver_pending(cw.platform.db, now=now)
        now += timedelta(days=1)
    with cw.session() as s:
        d = s.scalar(select(WebhookDelivery))
        assert d is not None and d.status == "failed" and d.attempts == 5
