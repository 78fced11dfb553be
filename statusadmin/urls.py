from django.contrib import admin
from django.urls import include, path

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

urlpatterns = [
    path("accounts/", include("statusadmin.accounts.urls")),
    path("admin/", admin.site.urls),
    path("", include((status_screens, "statuses"))),
    path("", include("statusadmin.audit.urls")),
]

handler403 = "statusadmin.error_pages.permission_denied"
handler404 = "statusadmin.error_pages.page_not_found"
handler500 = "statusadmin.error_pages.server_error"
