"""Conditions in plain words (pure functions, no database)."""

from __future__ import annotations

from custodes.console import plain

HEATHROW = {"type": "Polygon", "coordinates": [[[-0.49, 51.46], [-0.41, 51.46], [-0.41, 51.48], [-0.49, 51.48],
                                                [-0.49, 51.46]]]}


def test_a_nightly_curfew_reads_as_the_issue_says():
    spec = {"start_local": "2027-01-01T19:00:00", "rrule": "FREQ=DAILY", "duration_minutes": 720, "zone_name": "home"}
    assert plain.curfew(spec, "Europe/London") == "must be at home 19:00–07:00 every day (Europe/London)"


def test_weekly_curfews_name_their_days_and_end():
    spec = {"start_local": "2027-01-01T21:00:00", "rrule": "FREQ=WEEKLY;BYDAY=MO,WE;UNTIL=20270601T000000Z",
            "duration_minutes": 540}
    assert plain.curfew(spec, "Europe/Warsaw") == ("must be indoors at the curfew address 21:00–06:00 every Monday, "
                                                   "Wednesday until 2027-06-01 (Europe/Warsaw)")


def test_zones_say_what_and_how_big():
    circle = {"name": "Zone B", "zone_type": "exclusion", "circle": {"lat": 51.5, "lon": -0.1, "radius_m": 300}}
    assert plain.zone(circle) == "must not enter: Zone B (circle, 300 m)"
    assert plain.zone({**circle, "zone_type": "inclusion", "name": "Home", "circle": {**circle["circle"],
                                                                                      "radius_m": 1500}}) \
        == "must stay within: Home (circle, 1.5 km)"
    assert plain.zone({"name": "Heathrow", "zone_type": "exclusion", "geometry": HEATHROW}) \
        == "must not enter: Heathrow (area, 12.37 km²)"  # geodesic area of the 0.08° x 0.02° box


def test_check_in_policy_reads_as_the_issue_says():
    spec = {"prompts_per_day": 4, "waking_start": "08:00", "waking_end": "21:00", "response_minutes": 15,
            "quiet_hours": [{"start": "12:30", "end": "13:30"}]}
    text = plain.check_in_policy(spec, "Europe/London")
    assert text.startswith("up to 4 face check-ins a day, 08:00–21:00")
    assert text.endswith("; none 12:30–13:30")
    assert plain.check_in_policy({**spec, "prompts_per_day": 1}, "UTC").startswith("up to 1 face check-in a day")
    assert plain.check_in_policy({**spec, "prompts_per_day": 0}, "UTC") == "no face check-ins"
