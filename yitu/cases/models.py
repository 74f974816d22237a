"""Case tables (案件). Cases and everything derived from them mix in ``Jurisdictional``: the
jurisdiction scope (``yitu.access.scope``) filters them in every ORM statement.

* ``Category`` — the category dictionary as versioned data (GB/T 30428.2 部件/事件 classes plus
  social-governance types). A new version is a new row (same ``code``, ``version`` + 1); the old
  row gets ``valid_to``. A case points at the exact row it was filed under.
* ``Department`` — responsible units (职能部门, 乡镇/街道, 公用企业); ``DepartmentMember`` says
  which accounts handle for which department.
* ``Component`` — the 部件 inventory (16-digit 部件标识码 with its 权属/养护 units): a component
  case routes to its owner.
* ``Case`` — one report through its life; ``CaseEvent`` — the immutable, append-only log of every
  transition (database triggers refuse UPDATE and DELETE); KPIs are computed from it alone.
* ``Evidence`` — photos on disk (sha256, size, type, geotag, time), linked to the event that
  attached them.
* ``Supervision`` (督办), ``Notification`` (in-app), ``Subscription`` + ``WebhookDelivery``
  (webhook outbox: rows written in the transition's transaction, delivered after commit).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from yitu.access.scope import Jurisdictional
from yitu.core.db import Base, UtcDateTime


class CategoryKind(StrEnum):
    COMPONENT = "component"  # 部件 (GB/T 30428.2)
    EVENT = "event"  # 事件 (GB/T 30428.2)
    SOCIAL = "social"  # 社会治理事项 (矛盾纠纷, 安全隐患, 民生诉求 …)


class TimeUnit(StrEnum):
    WORKING_HOURS = "working_hours"  # 工作时: inside the configured working periods of work days
    WORKING_DAYS = "working_days"  # 工作日: that many full working days of working time
    NATURAL_HOURS = "natural_hours"  # 自然时: wall-clock (emergencies)


class Source(StrEnum):
    CITIZEN = "citizen"  # 公众 (app / 小程序)
    GRID_WORKER = "grid_worker"  # 网格员 / 监督员巡查
    SENSOR = "sensor"  # 物联感知 / 视频AI
    HOTLINE = "hotline"  # 12345 / 12319
    OPEN311 = "open311"  # Open311 GeoReport v2 clients


#: Sources whose reports need an on-site 核实 before 立案 (internal patrol reports do not).
NEEDS_VERIFICATION = frozenset({Source.CITIZEN, Source.SENSOR, Source.HOTLINE, Source.OPEN311})


class WarningLevel(StrEnum):
    NONE = "none"
    YELLOW = "yellow"  # 黄灯: the configured fraction of the stage's time is used
    RED = "red"  # 红灯: past the stage's deadline


class Department(Base):
    """A responsible unit (责任单位). ``node_id`` is set for 乡镇/街道 (the township itself)."""

    __tablename__ = "case_departments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name_zh: Mapped[str] = mapped_column(String(60))
    name_en: Mapped[str] = mapped_column(String(100), default="")
    # government (职能部门) | township (乡镇/街道) | utility (公用企业) | police
    kind: Mapped[str] = mapped_column(String(16))
    node_id: Mapped[int | None] = mapped_column(ForeignKey("jurisdiction_nodes.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class DepartmentMember(Base):
    """An account that handles cases for a department (a ``dept_handler`` or township officer)."""

    __tablename__ = "case_department_members"
    __table_args__ = (UniqueConstraint("user_id", "department_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("case_departments.id"), index=True)


class Category(Base):
    """One version of one 小类 (or social type). ``code`` is the kind letter + 大类 + 小类:
    ``C0101`` 部件 公用设施/上水井盖, ``E0102`` 事件 市容环境/暴露垃圾, ``S0101`` 社会治理/邻里纠纷.

    ``time_limits`` maps grade (``normal`` / ``urgent``) to stage (``accept``, ``verify``,
    ``register``, ``dispatch``, ``handle``, ``check``, ``close``) to ``[value, unit]``
    (unit a :class:`TimeUnit`); a missing stage takes the workflow default.
    """

    __tablename__ = "case_categories"
    __table_args__ = (UniqueConstraint("code", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(16), index=True)
    version: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))  # CategoryKind
    major_code: Mapped[str] = mapped_column(String(4))  # 大类代码
    major_name_zh: Mapped[str] = mapped_column(String(40))
    minor_code: Mapped[str] = mapped_column(String(4))  # 小类代码
    name_zh: Mapped[str] = mapped_column(String(60))
    name_en: Mapped[str] = mapped_column(String(100), default="")
    filing_condition: Mapped[str] = mapped_column(Text, default="")  # 立案条件
    closing_condition: Mapped[str] = mapped_column(Text, default="")  # 结案条件
    time_limits: Mapped[dict[str, Any]] = mapped_column(JSON)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("case_departments.id"))
    duplicate_radius_m: Mapped[float] = mapped_column(Float, default=50.0)
    valid_from: Mapped[datetime] = mapped_column(UtcDateTime())
    valid_to: Mapped[datetime | None] = mapped_column(UtcDateTime())
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class Component(Base):
    """A 部件 in the inventory (部件普查). ``object_code``: county code (6) + 大类 (2) + 小类 (2) +
    serial (6). Owner (权属单位) and maintainer (养护单位) decide where its cases go."""

    __tablename__ = "case_components"
    __table_args__ = (Index("ix_case_components_code", "code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    object_code: Mapped[str] = mapped_column(String(16), unique=True)
    category_code: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(60))
    owner_department_id: Mapped[int] = mapped_column(ForeignKey("case_departments.id"))
    maintainer_department_id: Mapped[int | None] = mapped_column(
        ForeignKey("case_departments.id")
    )
    state: Mapped[str] = mapped_column(String(12), default="intact")  # 完好/破损/丢失/占用
    lon: Mapped[float] = mapped_column(Float)
    lat: Mapped[float] = mapped_column(Float)
    code: Mapped[int] = mapped_column(BigInteger)  # level-10 2D integer grid code
    node_id: Mapped[int | None] = mapped_column(ForeignKey("jurisdiction_nodes.id"))


class Case(Jurisdictional, Base):
    """A case (案件). ``node_id`` is the management grid (or village) the location falls in;
    ``township_id`` its 乡镇/街道. ``state`` moves only through ``services.transition``.

    Reporter contact (``reporter_name``, ``reporter_phone``, ``reporter_email``) is personal data:
    masked by role on the way out, every unmasked read audited.
    """

    __tablename__ = "cases"
    __table_args__ = (
        Index("ix_cases_code", "code"),
        Index("ix_cases_open_due", "state", "due_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)  # yyyymmdd + 5-digit serial
    category_id: Mapped[int] = mapped_column(ForeignKey("case_categories.id"), index=True)
    category_code: Mapped[str] = mapped_column(String(16), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    address_text: Mapped[str] = mapped_column(String(200), default="")
    state: Mapped[str] = mapped_column(String(20), index=True)
    source: Mapped[str] = mapped_column(String(16))
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    lon: Mapped[float] = mapped_column(Float)
    lat: Mapped[float] = mapped_column(Float)
    code: Mapped[int] = mapped_column(BigInteger)  # level-10 2D integer grid code
    code3d: Mapped[str] = mapped_column(String(32), default="")  # when a height is known
    township_id: Mapped[int] = mapped_column(ForeignKey("jurisdiction_nodes.id"), index=True)
    department_id: Mapped[int | None] = mapped_column(
        ForeignKey("case_departments.id"), index=True
    )
    component_id: Mapped[int | None] = mapped_column(ForeignKey("case_components.id"))
    reporter_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reporter_name: Mapped[str] = mapped_column(String(50), default="")
    reporter_phone: Mapped[str] = mapped_column(String(20), default="")
    reporter_email: Mapped[str] = mapped_column(String(100), default="")
    external_ref: Mapped[str | None] = mapped_column(String(64), index=True)  # e.g. Open311 token
    # Timers: the current timed stage, its start, yellow-warning time and deadline; ``deadlines``
    # keeps every stage's deadline as set (ISO strings), ``handle_due_at`` the disposal deadline
    # (extended by approved extensions) for 按期处置.
    stage: Mapped[str | None] = mapped_column(String(12))
    stage_started_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    warn_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    due_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    handle_due_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    deadlines: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    warning_level: Mapped[str] = mapped_column(String(8), default=WarningLevel.NONE.value)
    # Working minutes left on the stage when suspended (缓办); restored on resume.
    suspended_remaining_min: Mapped[float | None] = mapped_column(Float)
    extension_pending: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    duplicate_of: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    repeat_count: Mapped[int] = mapped_column(Integer, default=0)  # same place + category, 30 d
    rework_count: Mapped[int] = mapped_column(Integer, default=0)
    return_count: Mapped[int] = mapped_column(Integer, default=0)
    extension_count: Mapped[int] = mapped_column(Integer, default=0)
    supervision_count: Mapped[int] = mapped_column(Integer, default=0)
    satisfaction: Mapped[str | None] = mapped_column(String(24))  # basically_satisfied: 19
    last_seq: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    # Optimistic lock: two concurrent transitions of one case cannot both commit.
    row_version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": row_version}  # noqa: RUF012


class CaseEvent(Jurisdictional, Base):
    """One step of a case (immutable). ``actor_user_id`` for accounts, ``actor_external`` for
    outside callers (``open311:<key name>``, ``system:sweep``). ``data`` holds the stage deadline
    set by the step (``due_at``), its stage, and action-specific facts (department, reason …)."""

    __tablename__ = "case_events"
    __table_args__ = (UniqueConstraint("case_id", "seq"), Index("ix_case_events_at", "at"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor_external: Mapped[str] = mapped_column(String(64), default="")
    role: Mapped[str] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(24), index=True)
    from_state: Mapped[str | None] = mapped_column(String(20))
    to_state: Mapped[str] = mapped_column(String(20))
    note: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Evidence(Jurisdictional, Base):
    """A photo. ``path`` is relative to the evidence directory (content-addressed by sha256)."""

    __tablename__ = "case_evidence"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    event_id: Mapped[int | None] = mapped_column(ForeignKey("case_events.id"))
    path: Mapped[str] = mapped_column(String(200))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(Integer)
    mime: Mapped[str] = mapped_column(String(32))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    taken_at: Mapped[datetime | None] = mapped_column(UtcDateTime())  # EXIF
    lon: Mapped[float | None] = mapped_column(Float)  # EXIF GPS
    lat: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class Supervision(Jurisdictional, Base):
    """督办: raised automatically when a stage goes red (``reason`` ``overdue``) or by hand."""

    __tablename__ = "case_supervisions"
    __table_args__ = (UniqueConstraint("case_id", "dedupe_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    stage: Mapped[str] = mapped_column(String(12))
    reason: Mapped[str] = mapped_column(String(16))  # overdue | manual
    dedupe_key: Mapped[str] = mapped_column(String(64))  # overdue: stage + deadline
    department_id: Mapped[int | None] = mapped_column(ForeignKey("case_departments.id"))
    due_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    note: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class Notification(Jurisdictional, Base):
    """An in-app notification to one account. Holds no personal data (number, category, state)."""

    __tablename__ = "case_notifications"
    __table_args__ = (Index("ix_case_notifications_user", "user_id", "read_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("case_events.id"))
    action: Mapped[str] = mapped_column(String(24))
    message: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    read_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class Subscription(Base):
    """A webhook: case events POSTed to ``url`` signed with HMAC-SHA256 under ``secret``.
    ``actions`` is a comma list or ``*``; ``department_id`` limits it to one department's cases.
    ``channel`` names the sender (``webhook``; SMS / WeChat gateways register their own)."""

    __tablename__ = "case_subscriptions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(60))
    channel: Mapped[str] = mapped_column(String(16), default="webhook")
    url: Mapped[str] = mapped_column(String(400))
    secret: Mapped[str] = mapped_column(String(128))
    actions: Mapped[str] = mapped_column(String(400), default="*")
    department_id: Mapped[int | None] = mapped_column(ForeignKey("case_departments.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class WebhookDelivery(Base):
    """Outbox row: one event for one subscription; ``status`` pending → delivered | failed."""

    __tablename__ = "case_webhook_deliveries"
    __table_args__ = (Index("ix_case_webhook_deliveries_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("case_subscriptions.id"), index=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    event_id: Mapped[int] = mapped_column(ForeignKey("case_events.id"))
    payload: Mapped[str] = mapped_column(Text)  # the exact JSON body that is signed
    status: Mapped[str] = mapped_column(String(12), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime())
    last_error: Mapped[str] = mapped_column(String(300), default="")
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class CaseCounter(Base):
    """Per-day serial for case numbers (incremented under a row lock: no duplicate numbers)."""

    __tablename__ = "case_counters"

    day: Mapped[str] = mapped_column(String(8), primary_key=True)  # yyyymmdd, local time
    last: Mapped[int] = mapped_column(Integer, default=0)
