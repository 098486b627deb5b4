"""Navigation for the signed-in user's role only."""
from __future__ import annotations

from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext_lazy as _

from accounts.roles import Role

# (label, url name, roles that see it)
NAVIGATION = [
    (_("Home"), "home", None),
    (_("Organisations"), "accounts:organization_list", {Role.ADMIN}),
    (_("My organisation"), "accounts:organization_list",
     {Role.ENTERPRISE_MANAGER, Role.LOAN_OFFICER, Role.AUDITOR}),
    (_("Presses"), "devices:press_list", {Role.ENTERPRISE_MANAGER, Role.AUDITOR}),
    (_("Fleet health"), "health:fleet", {Role.ENTERPRISE_MANAGER, Role.LOAN_OFFICER}),
    (_("Federated learning"), "federation:task_list", {Role.ENTERPRISE_MANAGER, Role.LOAN_OFFICER}),
    (_("Credit"), "lending:facility_list", {Role.LOAN_OFFICER, Role.ENTERPRISE_MANAGER}),
    (_("ABS"), "abs:pool_list", {Role.LOAN_OFFICER}),
    (_("Audit log"), "audit:event_list", {Role.AUDITOR, Role.ADMIN}),
    (_("API"), "api-docs", None),
]


def navigation(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_items": []}
    items = []
    for label, url_name, roles in NAVIGATION:
        if roles is not None and user.role not in roles:
            continue
        try:
            url = reverse(url_name)
        except NoReverseMatch:
            continue
        items.append({"label": label, "url": url, "active": request.path == url})
    return {"nav_items": items}
