"""Every domain's tables, imported in one place so migrations see the whole schema."""

from yitu.access.models import AuthSession, JurisdictionNode, User, UserScope
from yitu.audit.models import AuditEvent
from yitu.core.db import Base
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
    "JurisdictionNode",
    "MapFeature",
    "NodeBoundary",
    "Organisation",
    "Person",
    "PersonHouse",
    "PersonOrg",
    "Road",
    "User",
    "UserScope",
]
