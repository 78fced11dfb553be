from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from statusadmin.accounts.roles import VIEW_STATUSES
from statusadmin.convoso.connection import get_client
from statusadmin.convoso.errors import ConvosoError


@require_GET
@permission_required(VIEW_STATUSES, raise_exception=True)
def index(request: HttpRequest) -> HttpResponse:
    error = None
    try:
        statuses = get_client().search("")
    except ConvosoError as exc:
        statuses, error = [], exc.explanation
    return render(request, "statuses/index.html", {"statuses": statuses, "error": error})
