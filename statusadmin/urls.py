from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from statusadmin import converters  # noqa: F401  (registers <code:...> for every app's URLs)
from statusadmin.accounts.views import LoginView

# Users are managed by admins; there is no e-mail, so no self-service password reset.
accounts = [
    path("login/", LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("password/", auth_views.PasswordChangeView.as_view(), name="password_change"),
    path(
        "password/done/",
        auth_views.PasswordChangeDoneView.as_view(),
        name="password_change_done",
    ),
]

# The admin says whose it is, like every other page.
admin.site.site_header = "statusadmin administration"
admin.site.site_title = "statusadmin"
admin.site.index_title = "Users, roles and read-only records"

urlpatterns = [
    path("accounts/", include(accounts)),
    path("admin/", admin.site.urls),
    path("", include("statusadmin.statuses.urls")),
    path("", include("statusadmin.audit.urls")),
]

handler403 = "statusadmin.error_pages.permission_denied"
handler404 = "statusadmin.error_pages.page_not_found"
handler500 = "statusadmin.error_pages.server_error"
