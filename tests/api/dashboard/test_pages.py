"""The dashboard in real headless Chromium against a real ``brygga serve`` (SPEC 7.1)."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.api.conftest import ApiProject, Secrets, Served, ServeFactory
from tests.api.dashboard.conftest import DESKTOP, PHONE, LoopbackOnly, Screens, serious_violations
from tests.api.test_e2e import dead_letters, locked, run
from tests.engine.conftest import contact
from tests.engine.two_way_project import make_two_way_project

ENV = {"BRYGGA_FAILING_AFTER": "1"}
OPERATOR_BUTTONS = re.compile(r"^(Run now|Pause|Resume|Retry|Retry all|Discard|Replay)$")


def sign_in(page: Page, served: Served, token: str) -> None:
    page.goto(served.process.url + "/")
    expect(page).to_have_url(re.compile(r"/sign-in$"))
    page.get_by_label("Token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Syncs")).to_be_visible()


def with_history(served: Served) -> int:
    """Runs of both syncs, one with a dead letter; the dead letter's id."""
    project, operator = served.project, served.operator
    project.crm.insert("contacts", [contact(1), contact(2, email="  "), contact(3, name="Bo")])
    assert run(operator, "contacts")["status"] == "partial"
    project.crm.insert("companies", [{"id": 7, "name": "Acme", "updated_at": "2024-03-01 12:00:00"}])
    assert run(operator, "companies")["status"] == "succeeded"
    [letter] = dead_letters(operator, "contacts")
    return int(letter["id"])


def checked(page: Page, screens: Screens, name: str) -> None:
    """A screenshot of the page, and no serious or critical accessibility violation on it."""
    screens.take(page, name)
    assert serious_violations(page) == [], name


def test_a_viewer_sees_every_sync_and_no_operator_button(
    serve: ServeFactory, project: ApiProject, context: BrowserContext, screens: Screens
) -> None:
    served = serve(project, ENV)
    letter = with_history(served)
    page = context.new_page()
    page.goto(served.process.url + "/")
    checked(page, screens, "sign-in")
    sign_in(page, served, project.secrets.viewer)

    rows = page.locator("#overview tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0).locator("th")).to_have_text("companies")
    expect(rows.nth(1).locator("th")).to_have_text("contacts")
    expect(rows.nth(0).locator(".st")).to_have_text("idle")
    expect(rows.nth(1).locator(".st")).to_have_text("idle")
    expect(rows.nth(1)).to_contain_text("partial")
    expect(rows.nth(1).locator("td").last).to_have_text("1")
    checked(page, screens, "overview")

    page.get_by_role("link", name="contacts").first.click()
    expect(page.get_by_role("heading", name=re.compile("^contacts"))).to_be_visible()
    expect(page.locator("svg.chart")).to_be_visible()
    expect(page.locator(f"#dead-letter-{letter}")).to_contain_text("email")
    checked(page, screens, "sync")

    page.locator("table").first.get_by_role("link").first.click()
    expect(page.get_by_role("heading", name=re.compile(r"^Run \d+"))).to_be_visible()
    page.get_by_label("Action").select_option("failed")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("tbody tr")).to_have_count(1)
    expect(page.locator("tbody tr")).to_contain_text("failed")
    checked(page, screens, "run")

    page.get_by_role("link", name="Record lookup").click()
    page.get_by_label("Sync").select_option("contacts")
    page.get_by_label("Source key").fill("1")
    page.get_by_role("button", name="Look up").click()
    expect(page.locator(".story li")).to_have_count(1)
    expect(page.locator(".facts")).to_contain_text("1")
    checked(page, screens, "record")

    page.get_by_role("link", name="Webhook events").click()
    expect(page.get_by_role("heading", name="Webhook events")).to_be_visible()
    checked(page, screens, "webhook-events")

    for path in ("/", "/syncs/contacts", "/webhook-events"):
        page.goto(served.process.url + path)
        expect(page.get_by_role("button", name=OPERATOR_BUTTONS)).to_have_count(0)

    # the server refuses a viewer's action all the same, with the session's own CSRF token and origin
    csrf = page.locator('meta[name="csrf-token"]').get_attribute("content")
    origin = {"Origin": served.process.url}
    refused = page.request.post(
        served.process.url + "/syncs/contacts/run", form={"csrf": csrf or "", "back": "/"}, headers=origin
    )
    assert refused.status == 403 and "viewer" in refused.text()
    assert served.viewer.json("GET", "/api/v1/runs", params={"sync": "contacts"})["items"][0]["trigger"] == "manual"
    assert len(served.viewer.json("GET", "/api/v1/runs")["items"]) == 2, "no run was started"

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/sign-in$"))
    page.goto(served.process.url + "/syncs/contacts")
    expect(page).to_have_url(re.compile(r"/sign-in$"))


def test_a_forged_action_is_refused(serve: ServeFactory, project: ApiProject, context: BrowserContext) -> None:
    served = serve(project, ENV)
    page = context.new_page()
    sign_in(page, served, project.secrets.operator)
    url, origin = served.process.url, {"Origin": served.process.url}
    csrf = page.locator('meta[name="csrf-token"]').get_attribute("content") or ""

    without_token = page.request.post(url + "/syncs/contacts/run", form={"back": "/"}, headers=origin)
    assert without_token.status == 403 and "CSRF" in without_token.text()
    wrong_token = page.request.post(url + "/syncs/contacts/pause", form={"csrf": csrf[:-1] + "x"}, headers=origin)
    assert wrong_token.status == 403
    other_site = {"Origin": "http://evil.example"}
    from_elsewhere = page.request.post(url + "/syncs/contacts/pause", form={"csrf": csrf}, headers=other_site)
    assert from_elsewhere.status == 403 and "another site" in from_elsewhere.text()
    assert served.viewer.json("GET", "/api/v1/runs")["items"] == []
    assert served.viewer.json("GET", "/api/v1/syncs/contacts")["paused"] is False

    # the same form from the page itself goes through
    allowed = page.request.post(url + "/syncs/contacts/pause", form={"csrf": csrf}, headers=origin)
    assert allowed.ok
    assert served.viewer.json("GET", "/api/v1/syncs/contacts")["paused"] is True


def test_the_overview_shows_a_failing_sync_without_a_reload(
    serve: ServeFactory, project: ApiProject, context: BrowserContext, screens: Screens
) -> None:
    served = serve(project, ENV)
    page = context.new_page()
    sign_in(page, served, project.secrets.viewer)
    row = page.locator("#overview tbody tr", has=page.get_by_role("link", name="contacts", exact=True))
    expect(row.locator(".st")).to_have_text("idle")
    page.evaluate("window.notReloaded = true")

    project.crm.insert("contacts", [contact(1)])
    with locked(project.erp):  # the target is down: every write to it fails
        assert run(served.operator, "contacts")["status"] == "failed"

    expect(row.locator(".st")).to_have_text("failing", timeout=20_000)
    expect(page.locator("#attention")).to_contain_text("1 sync failing")
    assert page.evaluate("window.notReloaded") is True
    checked(page, screens, "overview-failing")


def test_an_operator_retries_a_dead_letter_and_sees_it_go(
    serve: ServeFactory, project: ApiProject, context: BrowserContext, screens: Screens
) -> None:
    served = serve(project, ENV)
    letter = with_history(served)
    project.crm.execute("UPDATE contacts SET email = 'bo@example.com' WHERE id = 2")
    page = context.new_page()
    sign_in(page, served, project.secrets.operator)
    page.goto(served.process.url + "/syncs/contacts")
    row = page.locator(f"#dead-letter-{letter}")
    expect(row).to_be_visible()
    expect(page.get_by_role("button", name="Run now")).to_be_visible()

    row.get_by_role("button", name="Retry").click()

    expect(page.locator(".notice")).to_contain_text("succeeded")
    expect(page.locator(f"#dead-letter-{letter}")).to_have_count(0)
    expect(page.get_by_role("heading", name="Dead letters")).to_be_visible()
    assert dead_letters(served.operator) == []
    checked(page, screens, "sync-operator")


def test_a_discarded_dead_letter_shows_in_its_story_as_done_in_no_run(
    serve: ServeFactory, project: ApiProject, context: BrowserContext, screens: Screens
) -> None:
    """A discard is logged in no run (run 0): the story says so, and links to no run page that does not exist."""
    served = serve(project, ENV)
    letter = with_history(served)
    assert served.operator.delete(f"/api/v1/dead-letters/{letter}").status_code == 204
    page = context.new_page()
    sign_in(page, served, project.secrets.viewer)

    page.goto(served.process.url + "/records?sync=contacts&key=2")

    discarded = page.locator(".story > li").first
    expect(discarded).to_contain_text("skipped")
    expect(discarded).to_contain_text("by an operator, in no run")
    expect(discarded.locator('a[href="/runs/0"]')).to_have_count(0)
    checked(page, screens, "record-discarded")


def test_the_overview_reads_on_a_phone(
    serve: ServeFactory, project: ApiProject, context: BrowserContext, screens: Screens
) -> None:
    served = serve(project, ENV)
    with_history(served)
    page = context.new_page()
    page.set_viewport_size(PHONE)  # type: ignore[arg-type]
    sign_in(page, served, project.secrets.viewer)
    expect(page.locator("#overview tbody tr")).to_have_count(2)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), "the page scrolls sideways"
    checked(page, screens, "overview-phone")
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()


def test_a_two_way_sync_shows_its_sides_directions_and_conflicts(
    serve: ServeFactory, tmp_path: Path, context: BrowserContext, screens: Screens
) -> None:
    (tmp_path / "two-way").mkdir()
    two_way = make_two_way_project(tmp_path / "two-way")  # no api.tokens: loopback only, no sign-in
    served = serve(ApiProject(two_way.file, two_way.crm, two_way.erp, Secrets()))  # type: ignore[arg-type]
    api = served.anonymous
    two_way.crm.insert([{"id": 1, "email": "c1@crm.se", "phone": "1", "name": "C 1"}])
    assert run(api, "crm-erp")["status"] == "succeeded"
    two_way.crm.execute("UPDATE contacts SET name = 'CRM name' WHERE id = 1")
    two_way.erp.execute("UPDATE customers SET name = 'ERP name' WHERE customer_no = 1")
    settled = run(api, "crm-erp")
    assert settled["conflicts"] == 1, settled
    page = context.new_page()

    page.goto(served.process.url + "/")
    row = page.locator("#overview tbody tr", has=page.get_by_role("link", name="crm-erp", exact=True))
    expect(row.locator("th")).to_contain_text("crm.contacts ⇄ erp.customers · two-way")

    row.get_by_role("link", name="crm-erp").click()
    expect(page.locator(".facts")).to_contain_text("a: crm.contacts ⇄ b: erp.customers")
    expect(page.locator(".facts")).to_contain_text("two-way")
    expect(page.locator("svg.chart .conflicts")).to_have_text("⇄1")
    checked(page, screens, "sync-two-way")

    page.goto(f"{served.process.url}/runs/{settled['id']}")
    facts = page.locator(".facts")
    expect(facts).to_contain_text("To b (erp.customers)")
    expect(facts.locator("div", has_text="Conflicts")).to_contain_text("1")
    conflict = page.locator("tbody tr", has=page.locator(".conflict"))
    expect(conflict).to_contain_text('On name: a (crm.contacts) had "CRM name", b (erp.customers) had "ERP name"')
    expect(conflict).to_contain_text("a's value stood")
    expect(conflict).to_contain_text("to b")
    checked(page, screens, "run-two-way")

    conflict.get_by_role("link").click()
    story = page.locator(".story > li")
    expect(story.nth(0)).to_contain_text("updated to b")
    expect(story.nth(0).locator(".diff tbody tr")).to_have_text('name"C 1""CRM name"')
    expect(story.nth(1)).to_contain_text("conflict on name")
    checked(page, screens, "record-two-way")


def test_a_two_way_record_story_shows_the_side_its_pair_is_gone_from(
    serve: ServeFactory, tmp_path: Path, context: BrowserContext, screens: Screens
) -> None:
    """A delete ``delete_in`` does not carry unlinks the pair, and the edits of the record left are skipped: the
    record's page said nothing of it, and an operator could not tell why."""
    (tmp_path / "two-way").mkdir()
    two_way = make_two_way_project(tmp_path / "two-way")
    served = serve(ApiProject(two_way.file, two_way.crm, two_way.erp, Secrets()))  # type: ignore[arg-type]
    api = served.anonymous
    two_way.crm.insert([{"id": n, "email": f"c{n}@crm.se", "phone": "1", "name": f"C {n}"} for n in (1, 2)])
    assert run(api, "crm-erp")["status"] == "succeeded"
    two_way.crm.execute("DELETE FROM contacts WHERE id = 2")
    two_way.erp.execute("UPDATE customers SET phone = 'edited' WHERE customer_no = 2")
    assert run(api, "crm-erp")["status"] == "succeeded"
    page = context.new_page()

    page.goto(f"{served.process.url}/records?sync=crm-erp&key=1")
    expect(page.locator(".facts")).not_to_contain_text("Gone from")
    page.goto(f"{served.process.url}/records?sync=crm-erp&key=2")
    expect(page.locator(".facts div", has_text="Gone from")).to_contain_text("a (crm.contacts)")
    note = page.locator(".alert-paused")
    expect(note).to_contain_text("Unlinked: the record was deleted in a (crm.contacts)")
    expect(note).to_contain_text("The record left in b (erp.customers) stays; its edits are skipped, not carried.")
    expect(page.locator(".story > li").nth(0)).to_contain_text("skipped to b")
    checked(page, screens, "record-gone")


def test_the_api_description_pages_work_under_their_content_security_policy(
    serve: ServeFactory, project: ApiProject, context: BrowserContext
) -> None:
    """The policy refuses any script but the service's and the page's own: both pages still show the API
    (the context fails the test on a script the policy blocked, or any other error on the console)."""
    served = serve(project)
    page = context.new_page()

    page.goto(served.process.url + "/docs")
    page.locator(".opblock-summary", has_text="/api/v1/syncs/{name}/pause").first.click()
    expect(page.get_by_role("button", name="Try it out")).to_be_visible()
    page.goto(served.process.url + "/redoc")
    expect(page.get_by_role("heading", name=re.compile(r"^Brygga"))).to_be_visible()
    expect(page.get_by_text("Retry it now", exact=False).first).to_be_attached()


def test_a_long_address_not_found_stays_inside_its_notice(
    serve: ServeFactory, project: ApiProject, browser: Browser, guard: LoopbackOnly, screens: Screens
) -> None:
    """A notice shows text from outside (an address, a system's error with a URL in it): one long word ran
    past the notice's edge and off the screen. (A context of its own: the page's 404 is on the console.)

    Only to a visitor signed in: a stranger following the address is sent to sign in, as for any address of
    the dashboard, and learns nothing of what is wrong with it. Signed in, the page keeps the dashboard's
    header (its links, who is signed in, Sign out), as a page for a sync that is not there does."""
    served = serve(project)
    opened = browser.new_context(viewport=DESKTOP)  # type: ignore[arg-type]
    opened.route("**/*", guard)
    address = served.process.url + "/syncs/" + "x" * 5000
    try:
        page = opened.new_page()
        for stranger_asks in (address, served.process.url + "/syncs/contacts?before=abc&before=-1"):
            page.goto(stranger_asks)
            expect(page).to_have_url(re.compile(r"/sign-in$"))
            expect(page.get_by_label("Token")).to_be_visible()
        sign_in(page, served, project.secrets.viewer)

        page.goto(address)

        notice = page.locator(".alert")
        expect(notice).to_contain_text("shows nothing for this address")
        assert notice.evaluate("element => element.scrollWidth <= element.clientWidth"), "the text runs past it"
        expect(page.get_by_role("navigation", name="Main")).to_be_visible()
        expect(page.get_by_role("button", name="Sign out")).to_be_visible()
        checked(page, screens, "not-found-long-address")
    finally:
        opened.close()
    assert guard.refused == [], f"requests left 127.0.0.1: {guard.refused}"
