"""The HTTP edge, before any route runs: body caps and read deadlines per route kind, refusal of
NUL bytes, security headers, the OpenAPI description of problem answers, and uvicorn's own limits."""
