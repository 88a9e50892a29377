"""The API describes itself and speaks problem+json for unknown routes."""


def test_openapi_lists_the_routes(client):
    spec = client.get("/openapi.json").json()
    paths = spec["paths"]
    for path in ("/v1/auth/token", "/v1/subjects", "/v1/subjects/{subject_id}", "/v1/orders/{order_id}/conditions",
                 "/v1/devices/by-barcode/{barcode}", "/v1/alerts", "/v1/audit/entries"):
        assert path in paths, path


def test_unknown_route_is_problem_json(client):
    r = client.get("/v1/nowhere")
    assert r.status_code == 404 and r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["title"] == "Not found"
