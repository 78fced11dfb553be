from django.urls import path

from . import views

# Part of the "statuses" URL namespace (statusadmin/urls.py).
urlpatterns = [
    path("statuses/export.csv", views.export_csv, name="export_csv"),
    path("statuses/export.json", views.export_json, name="export_json"),
    path("statuses/import/", views.import_catalogue, name="import"),
    path("statuses/bulk/", views.bulk, name="bulk"),
    path("changes/", views.change_sets, name="change_sets"),
    path("changes/compare/", views.compare, name="compare"),
    path("changes/compare/plan/", views.plan_copy, name="plan_copy"),
    path("changes/<int:pk>/", views.change_set_page, name="change_set"),
    path("changes/<int:pk>/apply/", views.apply, name="apply_change_set"),
    path("changes/<int:pk>/discard/", views.discard, name="discard_change_set"),
    path("changes/<int:pk>/decide/", views.decide, name="decide_change_set"),
]
