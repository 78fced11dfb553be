from django.urls import path

from . import views

# Part of the "statuses" URL namespace, with the approvals' and change sets' (statusadmin/urls.py).
urlpatterns = [
    path("", views.index, name="index"),
    path("refresh/", views.refresh, name="refresh"),
    path("statuses/new/", views.create, name="create"),
    path("statuses/<code:code>/", views.row, name="row"),
    path("statuses/<code:code>/flag/", views.set_flag, name="flag"),
    path("statuses/<code:code>/color/", views.set_color, name="color"),
    path("statuses/<code:code>/name/", views.edit_name, name="name"),
    path("statuses/<code:code>/revert/<int:pk>/", views.revert, name="revert"),
]
