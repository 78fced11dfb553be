"""A Convoso that accepts or refuses the token an account is added with (`responses`)."""

from __future__ import annotations

import responses

from tests.helpers import REAL_API

SEARCH = f"{REAL_API}/status/search"


def accepts(mock: responses.RequestsMock) -> None:
    mock.add(responses.POST, SEARCH, json={"data": []})


def refuses(mock: responses.RequestsMock) -> None:
    body = {"success": False, "error": "Invalid authentication token"}
    mock.add(responses.POST, SEARCH, json=body, status=200)
