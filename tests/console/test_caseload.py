"""The caseload in a browser: what needs attention, search, and the barcode scanner."""

from __future__ import annotations

from custodes.lab.console_scenario import BARCODE, SPARE_BARCODE
from tests.console.conftest import check_axe


def test_caseload_lists_only_the_agencys_subjects_with_device_battery_and_alerts(signed_in, console_server):
    page = signed_in("casey")
    check_axe(page)
    rows = page.locator("#caseload-rows tbody tr")
    names = rows.locator("td:first-child").all_inner_texts()
    assert names == ["Jan Kowalski", "Maria Nowak"]  # not the south agency's Piotr Zielinski
    jan = rows.first.inner_text()
    assert "TAG-1001" in jan and "battery" in jan and "1 open" in jan and "min ago" in jan
    page.get_by_label("Search by name or reference").fill("nowak")
    page.wait_for_function("document.querySelectorAll('#caseload-rows tbody tr').length === 1")
    assert rows.first.locator("td").first.inner_text() == "Maria Nowak"
    ref = str(console_server.scenario.subject_id).replace("-", "")[:8].upper()
    page.get_by_label("Search by name or reference").fill(ref)
    page.wait_for_function("document.querySelector('#caseload-rows tbody tr td')?.innerText === 'Jan Kowalski'")


def test_scanning_a_barcode_opens_the_wearer_else_the_device(signed_in, console_server):
    page = signed_in("casey")
    page.get_by_label("Scan a device barcode").fill(BARCODE)
    page.keyboard.press("Enter")  # what a handheld scanner types after the digits
    page.wait_for_url(f"**/subjects/{console_server.scenario.subject_id}")
    assert page.locator("h1").inner_text().startswith("Jan Kowalski")
    assert "worn by Jan Kowalski" in page.get_by_role("status").first.inner_text()
    page.goto("/caseload")
    page.get_by_label("Scan a device barcode").fill(SPARE_BARCODE)
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/devices/{console_server.scenario.spare_device_id}")
    assert page.locator("h1").inner_text() == "Device WATCH-2001"
    check_axe(page)


def test_another_agencys_barcode_finds_nothing(signed_in):
    page = signed_in("sam")  # the south agency: the tag belongs to the north
    page.get_by_label("Scan a device barcode").fill(BARCODE)
    page.keyboard.press("Enter")
    page.wait_for_url("**/caseload")
    assert f"No device of your agency has barcode {BARCODE}" in page.get_by_role("alert").inner_text()
