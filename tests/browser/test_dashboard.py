"""What only a browser shows: live search, switches, the picker, prompts, focus, roles."""

from __future__ import annotations

import re

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from statusadmin.audit.models import AuditEntry
from statusadmin.convoso.models import SandboxFault, SandboxStatus
from tests.browser.helpers import serious

pytestmark = pytest.mark.browser


def row(page, code: str):  # type: ignore[no-untyped-def]
    return page.locator(f"tbody#row-{code}")


class SearchTests:
    def test_typing_filters_rows_without_a_reload(self, session, supervisor):
        page = session.login_as(supervisor)
        session.open("/")
        expect(row(page, "COMP")).to_be_visible()
        page.evaluate("window.__sameDocument = true")
        page.get_by_label("Search").press_sequentially("xfe", delay=30)
        expect(row(page, "COMP")).to_have_count(0)
        expect(row(page, "XFER")).to_be_visible()
        expect(page).to_have_url(re.compile(r"\?q=xfe$"))
        assert page.evaluate("window.__sameDocument") is True

    def test_back_restores_the_previous_query(self, session, supervisor):
        page = session.login_as(supervisor)
        session.open("/?q=comp")
        expect(row(page, "XFER")).to_have_count(0)
        page.get_by_label("Search").fill("xfer")
        expect(page).to_have_url(re.compile(r"\?q=xfer$"))
        expect(row(page, "COMP")).to_have_count(0)
        page.go_back()
        expect(page).to_have_url(re.compile(r"\?q=comp$"))
        expect(row(page, "COMP")).to_be_visible()
        expect(row(page, "XFER")).to_have_count(0)
        expect(page.get_by_label("Search")).to_have_value("comp")

    def test_shared_url_opens_filtered(self, session, supervisor):
        page = session.login_as(supervisor)
        session.open("/?q=voicemail")
        expect(row(page, "LVM")).to_be_visible()
        expect(row(page, "XFER")).to_have_count(0)


class SwitchTests:
    def test_flip_sticks_after_reload_and_keeps_focus(self, session, supervisor):
        page = session.login_as(supervisor)
        session.open("/")
        callback = row(page, "XFER").get_by_role("switch", name="Callback")
        expect(callback).to_have_attribute("aria-checked", "false")
        callback.click()
        expect(callback).to_have_attribute("aria-checked", "true")
        expect(page.locator("#toast")).to_contain_text("Saved XFER: Callback No → Yes.")
        assert page.evaluate("document.activeElement.id") == "sw-XFER-callback"
        page.reload()
        expect(row(page, "XFER").get_by_role("switch", name="Callback")).to_have_attribute(
            "aria-checked", "true"
        )
        assert SandboxStatus.objects.get(code="XFER").callback is True

    def test_keyboard_alone(self, session, supervisor):
        page = session.login_as(supervisor)
        session.open("/?q=hot")
        final = row(page, "HOT").get_by_role("switch", name="Final")
        final.focus()
        # Final changes who is dialled: the row asks first, and focus goes to its answer.
        page.keyboard.press("Space")
        confirm = row(page, "HOT").get_by_role("button", name="Turn Final on")
        expect(confirm).to_be_focused()
        assert SandboxStatus.objects.get(code="HOT").final is False  # nothing sent yet
        page.keyboard.press("Enter")
        expect(final).to_have_attribute("aria-checked", "true")
        expect(final).to_be_focused()
        page.keyboard.press("Enter")
        expect(row(page, "HOT").get_by_role("button", name="Turn Final off")).to_be_focused()
        page.keyboard.press("Enter")
        expect(final).to_have_attribute("aria-checked", "false")
        assert SandboxStatus.objects.get(code="HOT").final is False

    def test_a_change_with_a_reason_is_undone_from_the_message_bar(self, session, supervisor):
        page = session.login_as(supervisor)
        session.open("/?q=xfer")
        page.get_by_label("Reason for your changes").fill("Agents asked for it")
        callback = row(page, "XFER").get_by_role("switch", name="Callback")
        callback.click()
        expect(callback).to_have_attribute("aria-checked", "true")
        page.locator("#toast").get_by_role("button", name="Undo").click()
        expect(callback).to_have_attribute("aria-checked", "false")
        expect(page.locator("#toast")).to_contain_text("Saved XFER: Callback Yes → No.")
        reasons = list(
            AuditEntry.objects.filter(status_code="XFER")
            .order_by("id")
            .values_list("reason", flat=True)
        )
        assert reasons == ["Agents asked for it", "Undo of a change made a moment before"]

    def test_busy_switch_cannot_be_double_submitted(self, session, supervisor, settings):
        settings.CONVOSO_SANDBOX_LATENCY_MS = 700
        page = session.login_as(supervisor)
        session.open("/?q=xfer")
        posts: list[str] = []
        page.on("request", lambda r: r.method == "POST" and posts.append(r.url))
        contact = row(page, "XFER").get_by_role("switch", name="Contact")
        contact.click()
        expect(contact).to_have_attribute("aria-disabled", "true")
        expect(contact).to_have_attribute("aria-busy", "true")
        expect(contact).to_be_focused()
        page.keyboard.press("Enter")  # pressed again while busy: refused
        contact.click(force=True)
        expect(contact).to_have_attribute("aria-checked", "false")
        expect(contact).not_to_have_attribute("aria-disabled", "true")
        expect(contact).to_be_focused()
        page.wait_for_timeout(1000)  # longer than a request: a queued second POST would be out
        assert len(posts) == 1
        assert SandboxStatus.objects.get(code="XFER").contact is False

    def test_failure_shows_the_old_state_and_the_reason(self, session, supervisor):
        page = session.login_as(supervisor)
        session.open("/?q=xfer")
        SandboxStatus.objects.filter(code="XFER").update(custom=False)  # now read-only upstream
        row(page, "XFER").get_by_role("switch", name="Final").click()
        row(page, "XFER").get_by_role("button", name="Turn Final on").click()
        expect(row(page, "XFER").get_by_role("alert")).to_contain_text(
            "Only custom statuses can be changed"
        )
        # Now shown as the system status it became, with Final still off (the first flag).
        expect(row(page, "XFER").locator("td.flag").first).to_have_text("No")
        assert SandboxStatus.objects.get(code="XFER").final is False

    def test_failed_call_leaves_the_switch_as_it_was(self, session, supervisor):
        page = session.login_as(supervisor)
        session.open("/?q=xfer")
        SandboxFault.objects.create(endpoint="update", kind="unknown_code", remaining=1)
        final = row(page, "XFER").get_by_role("switch", name="Final")
        final.click()
        row(page, "XFER").get_by_role("button", name="Turn Final on").click()
        expect(row(page, "XFER").get_by_role("alert")).to_contain_text("account suspended")
        expect(final).to_have_attribute("aria-checked", "false")
        assert SandboxStatus.objects.get(code="XFER").final is False


class DncPromptTests:
    def test_reason_is_asked_escape_cancels_and_enter_sends(self, session, supervisor):
        page = session.login_as(supervisor)
        session.open("/?q=xfer")
        dnc = row(page, "XFER").get_by_role("switch", name="DNC")
        dnc.click()
        reason = page.get_by_label("Why turn DNC on for XFER?")
        expect(reason).to_be_focused()
        page.keyboard.press("Escape")
        expect(reason).to_have_count(0)
        expect(row(page, "XFER").get_by_role("switch", name="DNC")).to_be_focused()
        assert SandboxStatus.objects.get(code="XFER").dnc is False

        row(page, "XFER").get_by_role("switch", name="DNC").click()
        page.get_by_label("Why turn DNC on for XFER?").fill("Transfers include opt-outs")
        page.keyboard.press("Enter")
        # Four eyes: the change waits for a second person, and the switch can't ask again.
        expect(row(page, "XFER")).to_contain_text("DNC No → Yes: waiting for approval")
        waiting = row(page, "XFER").get_by_role("switch", name="DNC")
        expect(waiting).to_have_attribute("aria-disabled", "true")
        expect(waiting).to_have_attribute("aria-checked", "false")
        assert SandboxStatus.objects.get(code="XFER").dnc is False


class ColourTests:
    def test_pick_a_colour(self, session, supervisor):
        page = session.login_as(supervisor)
        session.open("/?q=xfer")
        row(page, "XFER").get_by_label("Colour").fill("#12ab34")
        expect(page.locator("#toast")).to_contain_text("Colour #6711D1 → #12AB34")
        expect(row(page, "XFER").get_by_label("Colour")).to_have_value("#12ab34")
        assert SandboxStatus.objects.get(code="XFER").hex_color == "12AB34"


class NameTests:
    def test_click_edit_enter_save_escape_cancel(self, session, supervisor):
        page = session.login_as(supervisor)
        session.open("/?q=lvm")
        row(page, "LVM").get_by_role("link", name="Left Voicemail").click()
        field = row(page, "LVM").get_by_label("Name")
        expect(field).to_be_focused()
        field.fill("Voicemail left")
        page.keyboard.press("Enter")
        link = row(page, "LVM").get_by_role("link", name="Voicemail left")
        expect(link).to_be_focused()
        link.press("Enter")
        row(page, "LVM").get_by_label("Name").fill("Never saved")
        page.keyboard.press("Escape")
        expect(row(page, "LVM").get_by_role("link", name="Voicemail left")).to_be_focused()
        assert SandboxStatus.objects.get(code="LVM").name == "Voicemail left"


class CreateTests:
    def test_create_a_status(self, session, supervisor):
        page = session.login_as(supervisor)
        session.open("/")
        page.get_by_role("link", name="New status").click()
        page.get_by_label("Code").fill("QA1")
        page.get_by_label("Name").fill("Quality check")
        page.get_by_label("Callback").check()
        page.get_by_role("button", name="Create status").click()
        expect(page).to_have_url(re.compile(r"\?created=QA1#row-QA1$"))
        expect(row(page, "QA1")).to_have_class(re.compile("highlight"))
        expect(row(page, "QA1").get_by_role("switch", name="Callback")).to_have_attribute(
            "aria-checked", "true"
        )

    def test_dnc_asks_why_and_the_reason_is_kept(self, session, supervisor):
        from statusadmin.audit.models import AuditEntry

        page = session.login_as(supervisor)
        session.open("/statuses/new/")
        reason = page.get_by_label("Why is DNC on?")
        expect(reason).to_be_hidden()
        page.get_by_label("Code").fill("OPT9")
        page.get_by_label("Name").fill("Opted out")
        page.get_by_label("DNC", exact=True).check()
        expect(reason).to_be_visible()
        page.get_by_role("button", name="Create status").click()
        expect(page.locator("#id_reason_error")).to_contain_text("why DNC is being changed")
        expect(page.get_by_label("Why is DNC on?")).to_be_visible()
        page.get_by_label("Why is DNC on?").fill("Text opt-outs")
        page.get_by_role("button", name="Create status").click()
        expect(page.locator("#toast")).to_contain_text("OPT9 waits for a second person's approval")
        request = AuditEntry.objects.get(status_code="OPT9")
        assert (request.action, request.reason) == ("request", "Text opt-outs")

    def test_errors_appear_next_to_their_field(self, session, supervisor):
        page = session.login_as(supervisor)
        session.open("/statuses/new/")
        page.get_by_label("Code").fill("XFER")
        page.get_by_label("Name").fill("Dup")
        page.get_by_role("button", name="Create status").click()
        expect(page.locator("#id_code_error")).to_contain_text("already exists")
        expect(page.get_by_label("Code")).to_have_attribute("aria-invalid", "true")


class ComplianceTests:
    def test_no_controls(self, session, compliance_user):
        page = session.login_as(compliance_user)
        session.open("/")
        expect(row(page, "XFER")).to_be_visible()
        expect(page.get_by_role("switch")).to_have_count(0)
        expect(page.locator("input[type=color]")).to_have_count(0)
        expect(page.get_by_role("link", name="New status")).to_have_count(0)


class LoginTests:
    def test_login_form_and_logout(self, session, supervisor):
        page = session.open("/?q=xfer")
        expect(page).to_have_url(re.compile(r"/accounts/login/\?next="))
        page.get_by_label("Username").fill("sue")
        page.get_by_label("Password").fill("pw-sue")
        page.get_by_role("button", name="Log in").click()
        expect(page).to_have_url(re.compile(r"/\?q=xfer$"))
        page.get_by_role("button", name="Log out").click()
        expect(page).to_have_url(re.compile(r"/accounts/login/$"))


class AccessibilityTests:
    def test_status_screen(self, session, supervisor):
        page = session.login_as(supervisor)
        session.open("/")
        assert serious(Axe().run(page)) == []

    def test_status_screen_with_prompt_open(self, session, supervisor):
        page = session.login_as(supervisor)
        session.open("/?q=xfer")
        row(page, "XFER").get_by_role("switch", name="DNC").click()
        expect(page.get_by_label("Why turn DNC on for XFER?")).to_be_visible()
        assert serious(Axe().run(page)) == []

    def test_create_form_with_errors(self, session, supervisor):
        page = session.login_as(supervisor)
        session.open("/statuses/new/")
        assert serious(Axe().run(page)) == []
        page.get_by_role("button", name="Create status").click()
        expect(page.locator("#id_code_error")).to_be_visible()
        assert serious(Axe().run(page)) == []

    def test_compliance_view(self, session, compliance_user):
        page = session.login_as(compliance_user)
        session.open("/")
        assert serious(Axe().run(page)) == []
