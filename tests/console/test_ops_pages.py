"""The operational pages in a browser: a live alert handled end to end, a two-reviewer adverse face
decision (and a refused self-second review), a quarterly review, and a device returned by scanning.

These run against a server of their own (the shared one's caseload figures stay as other tests expect).
"""

from __future__ import annotations

import shutil
import threading
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
import uvicorn
from sqlalchemy import select

from custodes.actor import Actor
from custodes.access.models import User
from custodes.alerts import service as alerts
from custodes.alerts.models import Alert
from custodes.app import create_app
from custodes.audit.models import AuditEntry
from custodes.bootstrap import bootstrap
from custodes.clock import FrozenClock
from custodes.config import Settings
from custodes.devices.models import Assignment, Device
from custodes.lab import console_ops_scenario, console_scenario
from custodes.orders.models import Order
from custodes.review.models import ReviewItem
from tests.console.conftest import NOW, ConsoleServer, check_axe, free_port, sign_in


@pytest.fixture(scope="module")
def ops_server(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path):
    home = tmp_path_factory.mktemp("console-ops")
    db = home / "custodes.db"
    shutil.copyfile(sqlite_template, db)
    container = bootstrap(Settings(home=home / "home", database_url=f"sqlite:///{db}"), FrozenClock(NOW))
    scenario = console_scenario.seed(container, days=1, step_s=300)
    ops = console_ops_scenario.seed(container, scenario)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(container), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="console-ops-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the console server did not start within 20 s")
        time.sleep(0.05)
    yield ConsoleServer(f"http://127.0.0.1:{port}", container, scenario), ops
    server.should_exit = True
    thread.join(timeout=10)
    container.close()


def _context(browser, url):
    context = browser.new_context(base_url=url, viewport={"width": 1280, "height": 800}, bypass_csp=True)
    context.set_default_timeout(10_000)
    return context


@pytest.fixture
def as_officer(browser, ops_server):
    contexts = []

    def open_as(username: str):
        context = _context(browser, ops_server[0].url)
        contexts.append(context)
        page = context.new_page()
        sign_in(page, username)
        page.wait_for_url("**/caseload")
        return page

    yield open_as
    for c in contexts:
        c.close()


def _user_id(container, username: str) -> uuid.UUID:
    with container.uow(Actor.system("test")) as uow:
        return uow.session.scalar(select(User.id).where(User.username == username))


def test_an_alert_raised_while_the_queue_is_open_arrives_live_and_is_handled(as_officer, ops_server):
    server, _ = ops_server
    page = as_officer("casey")
    page.goto("/alerts")
    check_axe(page)
    fault = page.locator(".alert-card[data-category=device_fault]").first
    breach = page.locator(".alert-card[data-category=integrity]").first  # tamper: a possible breach
    assert "Device fault" in fault.inner_text()
    assert fault.evaluate("e => getComputedStyle(e).borderLeftStyle") == "dashed"  # faults look different
    assert breach.evaluate("e => getComputedStyle(e).borderLeftStyle") == "solid"
    page.wait_for_function("document.getElementById('alert-list')._liveSource?.readyState === 1")
    with server.container.uow(Actor.system("rules")) as uow:
        alert, _ = alerts.raise_alert(uow=uow, subject_id=server.scenario.subject_id, kind="exclusion_zone_entry",
                                      category="breach", severity="high", occurred_at=NOW - timedelta(minutes=4),
                                      dedupe_key=f"live-{uuid.uuid4()}",
                                      evidence={"fix_at": (NOW - timedelta(minutes=4)).isoformat(), "zone": "Zone B"})
        uow.commit()
    card = page.locator(f"#alert-{alert.id}")
    card.wait_for()  # no reload: it came over the stream
    assert page.url.endswith("/alerts")
    text = card.inner_text()
    assert "new" in text and "Entered an exclusion zone" in text
    assert "11:56:00 UTC" in text and "(subject's time, Europe/London)" in text  # local and UTC
    assert page.locator("#live-news").inner_text().startswith("New alert:")
    stale = page.context.new_page()  # the same queue in another tab, opened before the acknowledgement
    stale.goto("/alerts")
    card.get_by_role("button", name="Acknowledge").click()
    page.locator(f"#alert-{alert.id} .flash").filter(has_text="Acknowledged").wait_for()
    stale.locator(f"#alert-{alert.id}").get_by_role("button", name="Acknowledge").click()
    refused = stale.get_by_role("alert").filter(has_text="not open").first
    refused.wait_for()  # a refused action says why and what to do next
    assert "reload the page" in refused.inner_text().lower()
    stale.close()
    card = page.locator(f"#alert-{alert.id}")
    card.get_by_label("Outcome").select_option("breach_confirmed")
    card.get_by_label("Reason").fill("Fixes inside Zone B for 12 minutes with 8 m accuracy.")
    card.get_by_role("button", name="Resolve").click()
    page.locator(f"#alert-{alert.id} .flash").filter(has_text="Resolved as “Breach confirmed”").wait_for()
    casey = _user_id(server.container, "casey")
    with server.container.uow(Actor.system("test")) as uow:
        row = uow.session.get(Alert, alert.id)
        assert (row.status, row.outcome) == ("resolved", "breach_confirmed")
        assert row.acknowledged_by == row.resolved_by == casey
        assert row.reason.startswith("Fixes inside Zone B")


def test_an_adverse_face_decision_needs_a_second_different_reviewer(as_officer, ops_server):
    server, ops = ops_server
    item_id = ops.adverse_item_id
    riley = as_officer("riley")
    riley.goto("/review")
    check_axe(riley)
    assert "No decided items yet" in riley.locator("#rates-h ~ ul").inner_text()  # nothing closed so far
    riley.goto(f"/review/{item_id}")
    check_axe(riley)
    words = riley.locator("#plain-words").inner_text()
    assert "below the level that keeps false matches under 1 in 1,000" in words
    assert "liveness check passed" in words
    imgs = riley.locator(".faces img")
    assert imgs.count() == 2
    riley.wait_for_function("[...document.querySelectorAll('.faces img')].every(i => i.complete && i.naturalWidth > 0)")
    stale = riley.context.new_page()  # the same reviewer, in a second tab opened before deciding
    stale.goto(f"/review/{item_id}")
    riley.get_by_label("Different person").check()
    riley.get_by_label("Reason (what in the photos made you decide)").fill("Different nose and jaw line.")
    riley.get_by_role("button", name="Record decision").click()
    assert "waits for them" in riley.get_by_role("status").first.inner_text()
    assert riley.locator("#second-needed").is_visible() and riley.locator("#already-decided").is_visible()
    assert riley.locator("#decide-form").count() == 0
    # The stale tab tries to be its own second reviewer: refused, and nothing changes.
    stale.get_by_label("Different person").check()
    stale.get_by_label("Reason (what in the photos made you decide)").fill("Still a different person.")
    stale.get_by_role("button", name="Record decision").click()
    assert "already decided this item" in stale.locator("#error-detail").inner_text()
    with server.container.uow(Actor.system("test")) as uow:
        assert uow.session.get(ReviewItem, item_id).status == "awaiting_second"
    robin = as_officer(console_ops_scenario.SECOND_REVIEWER)
    robin.goto(f"/review/{item_id}")
    assert "second reviewer" in robin.locator("legend").inner_text()
    robin.get_by_label("Different person").check()
    robin.get_by_label("Reason (what in the photos made you decide)").fill("Agree: ears and hairline differ.")
    robin.get_by_role("button", name="Record decision").click()
    assert robin.locator("#review-outcome").inner_text() == "Different person"
    both = {_user_id(server.container, "riley"), _user_id(server.container, "robin")}
    with server.container.uow(Actor.system("test")) as uow:
        item = uow.session.get(ReviewItem, item_id)
        assert (item.status, item.outcome) == ("closed", "different_person")
        assert {item.first_reviewer_id, item.second_reviewer_id} == both
        reads = uow.session.scalars(select(AuditEntry).where(AuditEntry.target_type == "face_photo",
                                                             AuditEntry.purpose == "console: face review")).all()
        assert {r.actor_name for r in reads} >= {"riley", "robin"}


def test_recording_a_quarterly_review_moves_the_due_date(as_officer, ops_server):
    server, ops = ops_server
    page = as_officer("casey")
    page.goto("/order-reviews")
    check_axe(page)
    card = page.locator(f"#order-{ops.overdue_order_id}")
    assert "overdue by 6 days" in card.inner_text()
    card.get_by_label("Outcome").select_option("continue")
    card.get_by_label("Reasons (at least a sentence)").fill("Complied all quarter; the curfew is still needed.")
    card.get_by_role("button", name="Record review").click()
    assert "Review recorded: continue as it is." in page.get_by_role("status").first.inner_text()
    assert page.locator(f"#order-{ops.overdue_order_id}").count() == 0
    with server.container.uow(Actor.system("test")) as uow:
        assert uow.session.get(Order, ops.overdue_order_id).next_review_due == NOW + timedelta(days=90)


def test_returning_a_device_by_scanning_it_asks_then_ends_the_assignment(as_officer, ops_server):
    server, ops = ops_server
    page = as_officer("casey")
    page.goto("/inventory")
    check_axe(page)
    page.get_by_label("Scan a returned device").fill(ops.return_barcode)
    page.keyboard.press("Enter")  # what a handheld scanner sends
    page.locator("#return-preview").wait_for()
    check_axe(page)
    assert "Maria Nowak" in page.locator("#return-preview").inner_text()
    with server.container.uow(Actor.system("test")) as uow:  # the scan alone changed nothing
        assert uow.session.get(Device, ops.return_device_id).status == "issued"
    page.get_by_role("button", name="Confirm return").click()
    page.wait_for_url("**/inventory")
    assert "Assignment from Maria Nowak ended; BAND-3001 is now returned." in \
        page.get_by_role("status").first.inner_text()
    with server.container.uow(Actor.system("test")) as uow:
        assert uow.session.get(Device, ops.return_device_id).status == "returned"
        ended = uow.session.scalars(select(Assignment).where(Assignment.device_id == ops.return_device_id)).one()
        assert ended.ends_at == NOW
    page.get_by_role("button", name="Show history of BAND-3001").click()
    page.locator(f"#history-{ops.return_device_id} li").first.wait_for()
    assert "returned at the store (scanned)" in page.locator(f"#history-{ops.return_device_id}").inner_text()
    page.get_by_label("Scan a returned device").fill(ops.return_barcode)
    page.keyboard.press("Enter")  # a second scan: nothing to return, and it says so
    assert "already returned" in page.get_by_role("alert").first.inner_text()


def test_error_rates_show_their_interval_once_items_are_closed(as_officer, ops_server):
    page = as_officer("riley")  # after the two-reviewer test closed one "no match" item as a different person
    page.goto("/review")
    rates = page.locator("#rates-h ~ ul").inner_text()
    assert "0 of 1 (0.0%); with 95 % confidence the true rate is between 0.0% and" in rates
