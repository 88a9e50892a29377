"""The OpenAPI document lists each route's problem answers as application/problem+json."""

from custodes.errors import PROBLEM


# Routes anyone may call: sign-in forms and the public privacy notice.
PUBLIC = {"/v1/auth/token", "/v1/my/token", "/v1/privacy-notice"}


def test_every_route_documents_its_problem_answers(client):
    spec = client.get("/openapi.json").json()
    assert spec["components"]["schemas"]["Problem"]["required"] == ["type", "title", "status", "detail"]
    checked = 0
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            responses = op["responses"]
            for status in ("413", "422"):
                assert PROBLEM in responses[status]["content"], (method, path, status)
                assert responses[status]["content"][PROBLEM]["schema"] == {"$ref": "#/components/schemas/Problem"}
            if path.startswith("/v1/") and path not in PUBLIC:
                assert {"401", "403"} <= responses.keys(), (method, path)
            if "{" in path:
                assert "404" in responses, (method, path)
            if method in ("post", "put", "patch", "delete") and path not in PUBLIC:
                assert "409" in responses, (method, path)
            checked += 1
    assert checked >= 40
    assert "429" in spec["paths"]["/v1/auth/token"]["post"]["responses"]
    assert "429" in spec["paths"]["/v1/my/token"]["post"]["responses"]
    assert {"401", "403", "429"} <= spec["paths"]["/v1/adapters/owntracks"]["post"]["responses"].keys()
    assert "429" in spec["paths"]["/v1/devices/{device_id}/telemetry"]["post"]["responses"]
    assert "HTTPValidationError" not in spec["components"]["schemas"]
