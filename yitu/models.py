"""Every domain's tables, imported in one place so migrations see the whole schema."""

from yitu.access.models import AuthSession, JurisdictionNode, User, UserScope
from yitu.audit.models import AuditEvent
from yitu.core.db import Base
from yitu.people.models import Person

__all__ = ["AuditEvent", "AuthSession", "Base", "JurisdictionNode", "Person", "User", "UserScope"]
