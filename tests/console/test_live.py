"""The server-sent events helper that live pages use."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.testclient import TestClient

from custodes.console import live


def test_format_event_splits_lines_into_data_fields():
    assert live.format_event("alert", "<li>a</li>\n<li>b</li>", "7") == \
        "event: alert\nid: 7\ndata: <li>a</li>\ndata: <li>b</li>\n\n"


def test_sse_streams_what_fetch_returns_and_moves_the_cursor():
    calls: list[int] = []

    def fetch(cursor: int):
        calls.append(cursor)
        return ([("tick", f"<p>{cursor}</p>")] if cursor < 2 else []), cursor + 1

    app = FastAPI()

    @app.get("/stream")
    def stream(request: Request):
        return live.sse(request, fetch, cursor=0, interval_s=0.01, max_s=0.3)

    with TestClient(app) as client, client.stream("GET", "/stream") as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        body = "".join(r.iter_text())
    assert body.startswith("retry: 3000\n\n")
    assert "event: tick\ndata: <p>0</p>\n\n" in body and "event: tick\ndata: <p>1</p>\n\n" in body
    assert "<p>2</p>" not in body and calls[:3] == [0, 1, 2]
