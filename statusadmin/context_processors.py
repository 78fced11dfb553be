from django.http import HttpRequest

from statusadmin.convoso.connection import is_sandbox


def convoso(request: HttpRequest) -> dict[str, object]:
    """Lets every page show the sandbox banner."""
    return {"sandbox_mode": is_sandbox()}
