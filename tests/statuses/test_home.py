import pytest
import responses
from django.contrib.auth.models import Group, User
from django.test import override_settings

from statusadmin.accounts.roles import COMPLIANCE, SUPERVISOR
from tests.tokens import PAGE_TOKEN

pytestmark = pytest.mark.django_db


@pytest.fixture
def supervisor(client):
    user = User.objects.create_user("sue", password="pw")
    user.groups.add(Group.objects.get(name=SUPERVISOR))
    client.force_login(user)
    return user


class HomeTests:
    def test_anonymous_is_sent_to_login(self, client):
        response = client.get("/")
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")

    def test_login_page_renders(self, client):
        response = client.get("/accounts/login/")
        assert b'<label for="id_username">Username</label>' in response.content

    def test_lists_sandbox_statuses_with_banner(self, client, supervisor):
        response = client.get("/")
        html = response.content.decode()
        assert "Sandbox: not connected to Convoso" in html
        assert "Completed" in html
        assert "Transferred to Closer" in html

    def test_user_without_a_role_is_forbidden(self, client):
        client.force_login(User.objects.create_user("nobody", password="pw"))
        assert client.get("/").status_code == 403

    @override_settings(
        CONVOSO_SANDBOX=False,
        CONVOSO_AUTH_TOKEN=PAGE_TOKEN,
        CONVOSO_API_URL="https://c.test/v1",
    )
    @responses.activate
    def test_no_banner_with_a_real_token(self, client):
        responses.post("https://c.test/v1/status/search", json={"data": []})
        user = User.objects.create_user("carl", password="pw")
        user.groups.add(Group.objects.get(name=COMPLIANCE))
        client.force_login(user)
        html = client.get("/").content.decode()
        assert "Sandbox" not in html
        assert PAGE_TOKEN not in html
