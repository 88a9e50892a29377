"""The officers' console: server-rendered pages (Jinja2 + htmx + SSE + Leaflet) on the same app, under `/`.

An entrypoint like `app.py`: it calls the domains' service functions; no domain imports it.

How to add a page (about ten lines):

1. Make a router with `router = console_router()` (from `custodes.console.web`): every unsafe
   request through it must carry the CSRF token (forms: `{{ csrf_field() }}`; htmx sends it as the
   `X-CSRF-Token` header by itself, set once on `<body>` in `base.html`).
2. Write a handler that takes `page: Page` (the signed-in officer, a unit of work and the request)
   and declare roles with `dependencies=[page_requires(Role.X, ...)]`. Load everything through the
   domains' service functions with `page.uow`, which scope by agency (an unseen case is a 404 page).
3. Return `page.render("my_page.html", title=..., **context)`; the template starts with
   `{% extends "base.html" %}` and fills `{% block content %}` (also `head`, `scripts`, `actions`).
4. After a change, `page.uow.commit()` then `return page.redirect(url, "What was done.")`: the flash
   message says what happened. Domain errors raised in a handler become an HTML page (404, 403, 409,
   422) with the detail and what to do next; under `/v1` they stay problem+json.
5. Add the router in `mount()` (below, in `custodes/console/routes.py`), a nav entry in `NAV`
   (`web.py`) if it is a top-level page, and a browser test in `tests/console/` with `check_axe(page)`.
6. Live updates: `live.sse(request, fetch)` streams server-sent events; `fetch(cursor)` runs in a
   thread and returns `(events, new_cursor)`; pages listen with htmx's `sse` or `EventSource`.
"""

from custodes.console.routes import mount

__all__ = ["mount"]
