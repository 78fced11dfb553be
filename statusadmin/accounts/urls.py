from allauth.socialaccount import views as social_views
from django.contrib.auth import views as auth_views
from django.urls import include, path

from . import oidc, views

# Users are managed by admins (or come from the identity provider); there is no e-mail, so no
# self-service password reset. allauth's views are here only for what this dashboard uses:
# single sign-on (oidc.urlpatterns) and second factors (allauth.mfa), under allauth's URL names
# wherever allauth itself links to them.
urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("login/", views.LoginView.as_view(), name="account_login"),  # allauth's name for it
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("logout/", views.LogoutView.as_view(), name="account_logout"),
    path("inactive/", views.inactive, name="account_inactive"),
    path("no-role/", views.no_role, name="no_role"),
    path("time-zone/", views.time_zone, name="time_zone"),
    path("password/", auth_views.PasswordChangeView.as_view(), name="password_change"),
    path(
        "password/done/",
        auth_views.PasswordChangeDoneView.as_view(),
        name="password_change_done",
    ),
    *oidc.urlpatterns,
    path(
        "social/login/cancelled/",
        social_views.login_cancelled,
        name="socialaccount_login_cancelled",
    ),
    path("social/login/error/", social_views.login_error, name="socialaccount_login_error"),
    path("social/signup/", social_views.signup, name="socialaccount_signup"),
    path("2fa/", include("allauth.mfa.urls")),
]
