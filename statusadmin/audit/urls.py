from django.urls import path

from . import views

app_name = "audit"

urlpatterns = [
    path("audit/", views.audit_list, name="list"),
    path("audit/<int:pk>/", views.audit_detail, name="detail"),
    path("audit/report.csv", views.export_report, name="export_report"),
    path("audit/export.csv", views.export_csv, name="export_csv"),
    path("audit/export.jsonl", views.export_jsonl, name="export_jsonl"),
    path("audit/verify/", views.verify_now, name="verify"),
    path("audit/verify/<uuid:result_id>/", views.verification_result, name="verification"),
    path("audit/evidence.zip", views.evidence_bundle, name="evidence"),
    path("audit/catalogue/", views.catalogue, name="catalogue"),
    path("audit/catalogue.csv", views.catalogue_csv, name="catalogue_csv"),
    path("statuses/<code:code>/history/", views.status_history, name="status_history"),
]
