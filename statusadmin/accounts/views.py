from __future__ import annotations

from typing import Any

from django.contrib.auth import views as auth_views

from .middleware import SIGNED_OUT_BECAUSE


class LoginView(auth_views.LoginView):
    """Django's sign-in page, saying why the last session ended when it ended by itself."""

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["signed_out_because"] = self.request.session.pop(SIGNED_OUT_BECAUSE, None)
        return context
