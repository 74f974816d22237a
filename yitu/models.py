"""Every domain's tables, imported in one place so migrations see the whole schema."""

from yitu.access.models import AuthSession, JurisdictionNode, User, UserScope
from yitu.audit.models import AuditEvent
from yitu.cases.models import (
    Case,
    CaseCounter,
    CaseEvent,
    Category,
    Component,
    Department,
    DepartmentMember,
    Evidence,
    Notification,
    Subscription,
    Supervision,
    WebhookDelivery,
)
from yitu.cases.open311_models import Open311Key, Open311Request
from yitu.core.db import Base
from yitu.intake.models import (
    ImportBatch,
    ImportFile,
    PersonSource,
    ReviewItem,
    RowIssue,
    SourceRecord,
)
from yitu.people.models import Person
from yitu.registry.models import (
    Address,
    Building,
    House,
    MapFeature,
    NodeBoundary,
    Organisation,
    PersonHouse,
    PersonOrg,
    Road,
)

__all__ = [
    "Address",
    "AuditEvent",
    "AuthSession",
    "Base",
    "Building",
    "Case",
    "CaseCounter",
    "CaseEvent",
    "Category",
    "Component",
    "Department",
    "DepartmentMember",
    "Evidence",
    "House",
    "ImportBatch",
    "ImportFile",
    "JurisdictionNode",
    "MapFeature",
    "NodeBoundary",
    "Notification",
    "Open311Key",
    "Open311Request",
    "Organisation",
    "Person",
    "PersonHouse",
    "PersonOrg",
    "PersonSource",
    "ReviewItem",
    "Road",
    "RowIssue",
    "SourceRecord",
    "Subscription",
    "Supervision",
    "User",
    "UserScope",
    "WebhookDelivery",
]
