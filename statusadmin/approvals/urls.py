from django.urls import path

from . import views

# Part of the "statuses" URL namespace (statusadmin/urls.py).
urlpatterns = [
    path("approvals/", views.approval_list, name="approvals"),
    path("approvals/<int:pk>/approve/", views.approve, name="approve"),
    path("approvals/<int:pk>/reject/", views.reject, name="reject"),
    path("approvals/<int:pk>/withdraw/", views.withdraw, name="withdraw"),
    # Outside /approvals/: a supervisor's own requests need no approver's second factor.
    path("requests/", views.my_requests, name="my_requests"),
    path("notices/", views.notices, name="notices"),
    path("notices/read/", views.read_notices, name="read_notices"),
]
