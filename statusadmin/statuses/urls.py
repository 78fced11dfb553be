from django.urls import path

from . import approval_views, changeset_views, views

app_name = "statuses"

urlpatterns = [
    path("", views.index, name="index"),
    path("refresh/", views.refresh, name="refresh"),
    path("statuses/new/", views.create, name="create"),
    path("statuses/export.csv", changeset_views.export_csv, name="export_csv"),
    path("statuses/export.json", changeset_views.export_json, name="export_json"),
    path("statuses/import/", changeset_views.import_catalogue, name="import"),
    path("statuses/bulk/", changeset_views.bulk, name="bulk"),
    path("changes/<int:pk>/", changeset_views.change_set_page, name="change_set"),
    path("changes/<int:pk>/apply/", changeset_views.apply, name="apply_change_set"),
    path("changes/<int:pk>/discard/", changeset_views.discard, name="discard_change_set"),
    path("changes/<int:pk>/decide/", changeset_views.decide, name="decide_change_set"),
    path("statuses/<code:code>/", views.row, name="row"),
    path("statuses/<code:code>/flag/", views.set_flag, name="flag"),
    path("statuses/<code:code>/color/", views.set_color, name="color"),
    path("statuses/<code:code>/name/", views.edit_name, name="name"),
    path("statuses/<code:code>/revert/<int:pk>/", views.revert, name="revert"),
    path("approvals/", approval_views.approval_list, name="approvals"),
    path("approvals/<int:pk>/approve/", approval_views.approve, name="approve"),
    path("approvals/<int:pk>/reject/", approval_views.reject, name="reject"),
    path("approvals/<int:pk>/withdraw/", approval_views.withdraw, name="withdraw"),
]
