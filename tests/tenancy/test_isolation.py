"""A person sees and changes only the accounts they have roles in: whatever the URL and
whatever the id, another account's status, change request, change set or audit entry is a
404, and nothing of it shows in lists or exports."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.urls import URLPattern, URLResolver, set_script_prefix

from statusadmin.approvals import services as approvals
from statusadmin.approvals.models import ChangeRequest
from statusadmin.audit.models import AuditEntry
from statusadmin.changesets import services as changesets
from statusadmin.changesets.models import ChangeSet
from statusadmin.convoso import tenancy
from statusadmin.convoso.models import ConvosoAccount, Membership
from statusadmin.statuses import rows, services
from statusadmin.urls import account_screens
from tests.factories import make_user
from tests.helpers import pass_second_factor
from tests.tenancy.conftest import member

# Only in the west account's catalogue.
WEST_ONLY = "WONLY"


def routes(patterns: list[Any], prefix: str = "") -> list[tuple[str, str]]:
    """Every (route, name) of the account's screens, e.g. ("statuses/<code:code>/", "row")."""
    found = []
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            found += routes(pattern.url_patterns, route)
        elif isinstance(pattern, URLPattern):
            found.append((route, pattern.name or ""))
    return found


ROUTES = routes(account_screens)


@pytest.fixture
def west_things(west):  # type: ignore[no-untyped-def]
    """One of everything in the west account, made by its own people."""
    wendy = member("wendy", west)
    with tenancy.use(west):
        services.status_create(
            actor=wendy, code=WEST_ONLY, name="West only", flags={"final": "N"}, color=""
        )
        request = approvals.request_update(
            actor=wendy, code="HOT", changes={"dnc": "Y"}, reason="Client asked"
        )
        change_set = changesets.plan_bulk(
            actor=wendy, codes=["HOT", "XFER"], changes={"callback": "Y"}, title="West bulk"
        )
    entry = AuditEntry.objects.filter(account="west", status_code=WEST_ONLY).latest("id")
    return {"request": request, "change_set": change_set, "entry": entry}


def path_for(route: str, name: str, things: dict[str, Any]) -> str:
    pk = {
        "approve": things["request"].pk, "reject": things["request"].pk,
        "withdraw": things["request"].pk,
    }.get(name)  # fmt: skip
    if pk is None and "change_set" in name:
        pk = things["change_set"].pk
    if pk is None:
        pk = things["entry"].pk  # revert, the audit entry's page
    return "/" + route.replace("<code:code>", WEST_ONLY).replace("<int:pk>", str(pk))


# Routes that name a thing by id (a request, a change set, an audit entry): another
# account's id is a 404. Routes that name a status by code only: another account's status is
# one this account doesn't have, answered exactly as a code that exists nowhere.
ID_ROUTES = [(r, n) for r, n in ROUTES if "<int:pk>" in r]
CODE_ROUTES = [(r, n) for r, n in ROUTES if "<code:code>" in r and "<int:pk>" not in r]
NOWHERE = "NOPE99"


def answer(client: Any, method: str, url: str) -> tuple[int, bytes]:
    response = getattr(client, method)(url, {"final": "Y", "color": "#FF0000", "note": "x"})
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return response.status_code, body


def refused(client: Any, url: str) -> None:
    """Not found, whichever way it is asked: 404, or 405 to the method the route doesn't take
    (decided before anything is looked up)."""
    codes = {method: answer(client, method, url)[0] for method in ("get", "post")}
    assert set(codes.values()) <= {404, 405}, (url, codes)
    assert 404 in codes.values(), (url, codes)


def west_state() -> tuple[Any, ...]:
    return (
        AuditEntry.objects.filter(account="west").count(),
        ChangeRequest.objects.get(account="west").state,
        ChangeSet.objects.get(account="west").state,
    )


class IsolationTests:
    def test_every_route_is_walked(self):
        # A route added later is walked too; these are the ones that take an id today.
        assert {"approve", "change_set", "detail", "revert"} <= {n for _, n in ID_ROUTES}
        assert {"row", "flag", "status_history"} <= {n for _, n in CODE_ROUTES}

    @pytest.mark.parametrize(("route", "name"), ID_ROUTES)
    def test_another_accounts_ids_are_404_in_ones_own(self, client, east, west_things, route, name):
        eve = member("eve", east)
        client.force_login(eve)
        pass_second_factor(client, eve)  # approvers' pages ask for it first
        before = west_state()
        refused(client, "/a/east" + path_for(route, name, west_things))
        assert west_state() == before

    @pytest.mark.parametrize(("route", "name"), CODE_ROUTES)
    def test_another_accounts_status_is_one_this_account_lacks(
        self, client, east, west_things, route, name
    ):
        client.force_login(member("eve", east))
        before = west_state()
        url = "/a/east" + path_for(route, name, west_things)
        for method in ("get", "post"):
            status, body = answer(client, method, url)
            nowhere = answer(client, method, url.replace(WEST_ONLY, NOWHERE))
            assert status == nowhere[0], (method, url)
            assert b"West only" not in body
        assert west_state() == before

    @pytest.mark.parametrize(("route", "name"), ROUTES)
    def test_an_account_one_has_no_role_in_is_404_everywhere(
        self, client, east, west_things, route, name
    ):
        client.force_login(member("eve", east))
        before = west_state()
        refused(client, "/a/west" + path_for(route, name, west_things))
        assert west_state() == before

    @pytest.mark.parametrize(("route", "name"), ID_ROUTES)
    def test_the_default_accounts_people_cant_reach_another_accounts_ids(
        self, client, west_things, route, name
    ):
        dan = make_user("dan", "Supervisor")
        dan.groups.add(*Group.objects.filter(name__in=["Compliance", "Approver"]))
        client.force_login(dan)
        pass_second_factor(client, dan)
        before = west_state()
        refused(client, path_for(route, name, west_things))
        assert west_state() == before

    def test_an_unknown_or_disabled_account_is_404(self, client, east):
        client.force_login(member("eve", east))
        assert client.get("/a/nowhere/").status_code == 404
        ConvosoAccount.objects.filter(slug="east").update(enabled=False)
        assert client.get("/a/east/").status_code == 404


class ListTests:
    """Lists and exports show one account's things only."""

    @pytest.fixture
    def eve(self, client, east, west_things):  # type: ignore[no-untyped-def]
        client.force_login(member("eve", east))
        return client

    @pytest.mark.parametrize(
        "path",
        ["/", "/?q=WON", "/audit/", "/audit/export.csv", "/audit/export.jsonl",
         "/audit/report.csv", "/approvals/", "/statuses/export.csv", "/statuses/export.json"],
    )  # fmt: skip
    def test_nothing_of_another_account(self, eve, path):
        response = eve.get("/a/east" + path)
        assert response.status_code == 200, response.status_code
        body = b"".join(response.streaming_content) if response.streaming else response.content
        assert WEST_ONLY.encode() not in body
        assert b"Client asked" not in body
        assert b"West bulk" not in body


class SwitcherTests:
    def test_the_header_names_the_account_and_lists_only_ones_own(self, client, east, west):
        eve = member("eve", east)
        Membership.objects.create(user=eve, account_id=west.pk, role="Compliance")
        member("wendy", west)
        ConvosoAccount.objects.create(
            slug="north", name="North office", api_url=tenancy.SANDBOX_API_URL,
            token_encrypted="x", token_last4="",
        )  # fmt: skip
        client.force_login(eve)
        page = client.get("/a/east/").content.decode()
        assert '<span class="vh">Convoso account: </span>East office</summary>' in page
        assert '<a href="/a/west/">West client</a>' in page
        assert "North office" not in page  # no role there
        assert "Sandbox</" not in page  # nor in the default account (no group)
        # Links on an account's page stay in it.
        assert 'href="/a/east/audit/"' in page

    def test_a_person_of_one_account_is_taken_there_from_the_home_page(self, client, east):
        client.force_login(member("eve", east))
        response = client.get("/")
        assert response.status_code == 302
        assert response["Location"] == "/a/east/"

    def test_one_account_and_no_switcher(self, client, supervisor, east):
        # A single-account installation's header looks as it always did.
        client.force_login(supervisor)
        page = client.get("/").content.decode()
        assert "account-switch" not in page
        assert "account-name" not in page
        # Someone of one other account only is told which it is.
        client.force_login(member("eve", east))
        page = client.get("/a/east/").content.decode()
        assert '<span class="account-name" title="Convoso account">East office</span>' in page


class RowLinkTests:
    """A status row's links and switches go to the account whose page shows it, even when
    another account holds the very same status (the standard dispositions, in every account)
    and its row was shown there first."""

    @pytest.fixture(autouse=True)
    def _no_kept_rows(self):  # type: ignore[no-untyped-def]
        # Rows are kept per process: start each test with none, whatever ran before.
        rows._render_plain_row.cache_clear()

    @pytest.mark.parametrize("first", ["/a/east/", "/"])
    def test_the_same_status_in_two_accounts_keeps_its_own_links(
        self, client, supervisor, east, first
    ):
        Membership.objects.create(user=supervisor, account_id=east.pk, role="Supervisor")
        client.force_login(supervisor)
        pages = {}
        for prefix in (first, "/" if first != "/" else "/a/east/"):
            html = client.get(prefix, {"q": "XFER"}, HTTP_HX_REQUEST="true").content.decode()
            start = html.index('<tbody id="row-XFER"')
            pages[prefix] = html[start : html.index("</tbody>", start)]
        assert 'formaction="/statuses/XFER/flag/?v=' in pages["/"]
        assert 'href="/statuses/XFER/history/"' in pages["/"]
        assert "/a/east/" not in pages["/"]
        assert 'formaction="/a/east/statuses/XFER/flag/?v=' in pages["/a/east/"]
        assert 'href="/a/east/statuses/XFER/history/"' in pages["/a/east/"]

    def test_a_row_shown_under_another_script_prefix_keeps_its_own_links(self, client, supervisor):
        # gunicorn takes SCRIPT_NAME from a trusted proxy's header, and Django makes it the
        # prefix of every link of that request; the next request, without it, is another page.
        client.force_login(supervisor)
        set_script_prefix("/elsewhere/")
        try:
            client.get("/", {"q": "XFER"}, HTTP_HX_REQUEST="true")
        finally:
            set_script_prefix("/")
        html = client.get("/", {"q": "XFER"}, HTTP_HX_REQUEST="true").content.decode()
        start = html.index('<tbody id="row-XFER"')
        row = html[start : html.index("</tbody>", start)]
        assert 'formaction="/statuses/XFER/flag/?v=' in row
        assert "/elsewhere/" not in row
