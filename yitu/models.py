"""Every domain's tables, imported in one place so migrations see the whole schema."""

from yitu.access.models import AuthSession, JurisdictionNode, User, UserScope
from yitu.audit.models import AuditEvent
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
    "House",
    "ImportBatch",
    "ImportFile",
    "JurisdictionNode",
    "MapFeature",
    "NodeBoundary",
    "Organisation",
    "Person",
    "PersonHouse",
    "PersonOrg",
    "PersonSource",
    "ReviewItem",
    "Road",
    "RowIssue",
    "SourceRecord",
    "User",
    "UserScope",
]
