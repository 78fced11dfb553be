from django.urls import path, register_converter

from . import views


class CodeConverter:
    """A status code in a URL (see views.ADDRESSABLE_CODE)."""

    regex = views.ADDRESSABLE_CODE.pattern

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(CodeConverter, "code")

app_name = "statuses"

urlpatterns = [
    path("", views.index, name="index"),
    path("refresh/", views.refresh, name="refresh"),
    path("statuses/new/", views.create, name="create"),
    path("statuses/<code:code>/", views.row, name="row"),
    path("statuses/<code:code>/flag/", views.set_flag, name="flag"),
    path("statuses/<code:code>/color/", views.set_color, name="color"),
    path("statuses/<code:code>/name/", views.edit_name, name="name"),
]
