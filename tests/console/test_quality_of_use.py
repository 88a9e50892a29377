"""Quality of use: every control keyboard reachable, no sideways scrolling at 1280x800 or on a tablet."""

from __future__ import annotations

TRAIL = "?from=2027-03-09T12:00&to=2027-03-10T12:00&purpose=case_review&detail=keyboard+check"


def _tab_reach(page, want: set[str], limit: int = 120) -> set[str]:
    seen: set[str] = set()
    page.locator("body").focus()
    for _ in range(limit):
        page.keyboard.press("Tab")
        seen.add(page.evaluate("document.activeElement && document.activeElement.id || ''"))
        if want <= seen:
            break
    return seen


def _no_sideways_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")


def test_the_caseload_and_subject_page_work_from_the_keyboard(signed_in, console_server):
    page = signed_in("casey")
    assert {"barcode", "q"} <= _tab_reach(page, {"barcode", "q"})
    page.goto(f"/subjects/{console_server.scenario.subject_id}{TRAIL}")
    page.wait_for_function("window.custodesTrail !== undefined")
    want = {"from", "to", "purpose", "detail", "play", "slider", "export-gpx", "map", "timeline"}
    # "map": Leaflet makes the map itself focusable, so arrow keys pan it and +/- zoom it.
    assert want <= _tab_reach(page, want), "some controls are not reachable with Tab"
    page.locator("#slider").focus()
    before = page.locator("#position").inner_text()
    page.keyboard.press("End")  # a range input answers to the keyboard: jump to the last fix
    assert page.locator("#slider").input_value() == str(24 * 60 - 1)
    assert page.locator("#position").inner_text() != before


def test_pages_fit_a_laptop_and_a_tablet(signed_in, console_server):
    page = signed_in("casey")
    for size in ({"width": 1280, "height": 800}, {"width": 820, "height": 1180}):
        page.set_viewport_size(size)
        page.goto("/caseload")
        assert _no_sideways_scroll(page), f"caseload scrolls sideways at {size}"
        page.goto(f"/subjects/{console_server.scenario.subject_id}{TRAIL}")
        assert _no_sideways_scroll(page), f"subject page scrolls sideways at {size}"
