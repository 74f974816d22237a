"""Roles and what each may do. The single table every permission check reads.

三员分立 (separation of the three admins, 等保2.0 8.1.4.2(d)): the system, security and audit admins
hold no business permission, and an account holds exactly one role, so no account is two admins.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    OPERATOR = "operator"  # 市域社会治理指挥中心坐席: city operations centre operator
    DEPT_HANDLER = "dept_handler"  # 职能部门处置人员: department handler
    TOWNSHIP_OFFICER = "township_officer"  # 乡镇/街道干部: township officer
    GRID_WORKER = "grid_worker"  # 网格员
    ELDERCARE_OPERATOR = "eldercare_operator"  # 养老服务运营人员
    MEDIATOR = "mediator"  # 人民调解员
    COURT_LIAISON = "court_liaison"  # 法院联络员: reaches data only through approved requests
    SYS_ADMIN = "sys_admin"  # 系统管理员: accounts
    SEC_ADMIN = "sec_admin"  # 安全管理员: grants, unlocks, sessions
    AUDIT_ADMIN = "audit_admin"  # 安全审计员: reads the audit log


ADMIN_ROLES = frozenset({Role.SYS_ADMIN, Role.SEC_ADMIN, Role.AUDIT_ADMIN})
BUSINESS_ROLES = frozenset(Role) - ADMIN_ROLES


class Permission(StrEnum):
    PERSON_LIST = "person.list"  # masked list (L1)
    PERSON_DETAIL = "person.detail"  # one record, need-to-know (L2)
    PERSON_BREAK_GLASS = "person.break_glass"  # full record with a stated reason (L3)
    PERSON_SEARCH = "person.search"
    PERSON_WRITE = "person.write"
    PERSON_EXPORT = "person.export"
    ORG_WRITE = "org.write"  # create/update organisations (实有单位) in the registry
    JURISDICTION_READ = "jurisdiction.read"
    USER_MANAGE = "user.manage"  # create, list, disable accounts
    GRANT_MANAGE = "grant.manage"  # roles, scopes, unlock, revoke sessions
    AUDIT_READ = "audit.read"
    CASE_REPORT = "case.report"  # report a case (上报) in one's jurisdiction
    CASE_READ = "case.read"  # list and read cases (reporter contact masked), supervision
    CASE_ACT = "case.act"  # transitions; the workflow table decides which, per role
    CASE_ADMIN = "case.admin"  # categories (new versions), departments, members, webhooks
    INTAKE_REVIEW = "intake.review"  # import review queue: uncertain matches, merge or reject


P = Permission
_READ = {P.PERSON_LIST, P.PERSON_DETAIL, P.PERSON_SEARCH, P.JURISDICTION_READ}

_CASES = {P.CASE_REPORT, P.CASE_READ, P.CASE_ACT}

PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.OPERATOR: frozenset(
        _READ
        | _CASES
        | {P.PERSON_BREAK_GLASS, P.PERSON_WRITE, P.PERSON_EXPORT, P.ORG_WRITE, P.CASE_ADMIN}
        | {P.INTAKE_REVIEW}
    ),
    Role.TOWNSHIP_OFFICER: frozenset(
        _READ
        | _CASES
        | {P.PERSON_BREAK_GLASS, P.PERSON_WRITE, P.PERSON_EXPORT, P.ORG_WRITE, P.INTAKE_REVIEW}
    ),
    Role.GRID_WORKER: frozenset(_READ | _CASES | {P.PERSON_WRITE, P.ORG_WRITE}),
    Role.DEPT_HANDLER: frozenset(_READ | {P.CASE_READ, P.CASE_ACT}),
    Role.ELDERCARE_OPERATOR: frozenset(_READ),
    Role.MEDIATOR: frozenset(_READ),
    Role.COURT_LIAISON: frozenset({P.JURISDICTION_READ}),
    Role.SYS_ADMIN: frozenset({P.USER_MANAGE, P.JURISDICTION_READ}),
    Role.SEC_ADMIN: frozenset({P.GRANT_MANAGE, P.JURISDICTION_READ}),
    Role.AUDIT_ADMIN: frozenset({P.AUDIT_READ}),
}


def has_permission(role: Role | None, permission: Permission) -> bool:
    return role is not None and permission in PERMISSIONS[role]
