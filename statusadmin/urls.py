from types import ModuleType

from django.contrib import admin
from django.urls import URLPattern, URLResolver, include, path

from statusadmin import converters  # noqa: F401  (registers <code:...> for every app's URLs)
from statusadmin.approvals import urls as approvals_urls
from statusadmin.changesets import urls as changesets_urls
from statusadmin.statuses import urls as statuses_urls

# The admin says whose it is, like every other page.
admin.site.site_header = "statusadmin administration"
admin.site.site_title = "statusadmin"
admin.site.index_title = "Users, roles and read-only records"

# The status screens, the approvals and the change sets share one URL namespace, "statuses", as
# they did when they were one app: every URL and URL name stays as it was. Change sets come
# first: "statuses/import/" and "statuses/bulk/" would otherwise match "statuses/<code>/".
status_screens = [
    *changesets_urls.urlpatterns,
    *statuses_urls.urlpatterns,
    *approvals_urls.urlpatterns,
]

# What belongs to one Convoso account: the default account's at the root, each other's under
# /a/<slug>/ (account_urlconf).
account_screens: list[URLPattern | URLResolver] = [
    path("", include((status_screens, "statuses"))),
    path("", include("statusadmin.audit.urls")),
]
# What belongs to no account: signing in, the admin.
site: list[URLPattern | URLResolver] = [
    path("accounts/", include("statusadmin.accounts.urls")),
    path("admin/", admin.site.urls),
]

urlpatterns = [*site, *account_screens]

handler403 = "statusadmin.error_pages.permission_denied"
handler404 = "statusadmin.error_pages.page_not_found"
handler500 = "statusadmin.error_pages.server_error"

_account_urlconfs: dict[str, ModuleType] = {}


def account_urlconf(slug: str) -> ModuleType:
    """The URLconf of a request to account ``slug`` (the account middleware sets it as
    request.urlconf): the account's screens under /a/<slug>/ and nothing of theirs at the root.
    So every {% url %} and reverse() in that request names that account's pages, with no view
    or template passing the account along, and no page of the default account is reachable by
    a link from it."""
    if slug not in _account_urlconfs:
        module = ModuleType(f"{__name__}.account_{slug}")
        module.urlpatterns = [*site, path(f"a/{slug}/", include(account_screens))]  # type: ignore[attr-defined]
        for name in ("handler403", "handler404", "handler500"):
            setattr(module, name, globals()[name])
        _account_urlconfs[slug] = module
    return _account_urlconfs[slug]
