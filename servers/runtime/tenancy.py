"""The tenancy rule, in one place, for every core that owns tenant resources.

A resource created by a call with a principal belongs to that principal's tenant; one
created without a principal (an internal caller: `make up`'s demo connections, the
parser's query-intent model) has tenant "" and is shared, visible to every tenant.

    visible(t)      may the current caller see a resource of tenant t?
                    internal caller: yes; principal: t == its tenant or t == ""
    may_modify(t)   may it change or delete it? internal caller or admin: yes;
                    otherwise only its own tenant's (never a shared one)
    owner()         the tenant a resource created now belongs to

A resource the caller may not see is reported exactly as a missing one (NOT_FOUND with
the same message), so ids of other tenants cannot be probed. A visible resource the
caller may not change (a shared one, for a non-admin) is PERMISSION_DENIED.
"""

from __future__ import annotations

from .errors import PermissionDenied
from .identity import current_principal

SHARED = ""


def owner() -> str:
    """The tenant that a resource created by the current call belongs to."""
    p = current_principal()
    return SHARED if p is None else p.tenant


def visible(resource_tenant: str) -> bool:
    p = current_principal()
    return p is None or resource_tenant == SHARED or resource_tenant == p.tenant


def visible_to(resource_tenant: str, tenant: str | None) -> bool:
    """`visible` for an already-read tenant (None: an internal caller), for hot paths."""
    return tenant is None or resource_tenant == SHARED or resource_tenant == tenant


def may_modify(resource_tenant: str) -> bool:
    p = current_principal()
    if p is None:
        return True
    if resource_tenant == SHARED:
        return p.is_admin
    return resource_tenant == p.tenant


def check_modify(resource_tenant: str, what: str) -> None:
    """PERMISSION_DENIED unless the current caller may change a (visible) resource."""
    if not may_modify(resource_tenant):
        raise PermissionDenied(f"{what} is shared by all tenants; only an admin may change it",
                               reason="SHARED_RESOURCE")


def filter_tenant() -> str | None:
    """The tenant a list is filtered to (own + shared), or None for no filter."""
    p = current_principal()
    return None if p is None else p.tenant
