"""Service foundation: health, readiness, OpenAPI, problem+json, authentication."""

from __future__ import annotations

from tests.support import Client, bearer

CONTRACT_PATHS = {
    "/healthz": {"get"},
    "/readyz": {"get"},
    "/metrics": {"get"},
    "/v1/admin/operators": {"post"},
    "/v1/drivers": {"post"},
    "/v1/me/plates": {"post", "get"},
    "/v1/operator/devices": {"post", "get"},
    "/v1/operator/lots": {"post", "get"},
    "/v1/operator/lots/{lot_id}/spaces": {"post", "get"},
    "/v1/operator/spaces/{space_id}/shared-windows": {"put"},
    "/v1/devices/anpr": {"post"},
    "/v1/devices/anpr/openalpr": {"post"},
    "/v1/devices/occupancy": {"post"},
    "/v1/lots": {"get"},
    "/v1/lots/{lot_id}": {"get"},
    "/v1/lots/{lot_id}/live": {"get"},
    "/v1/bookings": {"post"},
    "/v1/bookings/{booking_id}": {"get"},
    "/v1/bookings/{booking_id}/cancel": {"post"},
    "/v1/me/bookings": {"get"},
    "/v1/sessions/{session_id}": {"get"},
    "/v1/me/sessions": {"get"},
    "/v1/operator/sessions": {"get"},
    "/v1/sessions/{session_id}/pay": {"post"},
    "/v1/payments/callback/{provider}": {"post"},
    "/v1/operator/lots/{lot_id}/occupancy": {"get"},
    "/v1/operator/revenue": {"get"},
    "/v1/operator/flags": {"get"},
    "/v1/operator/flags/{flag_id}/resolve": {"post"},
}


async def test_health_and_readiness(client: Client) -> None:
    r = await client.http.get("/healthz")
    assert r.status_code == 200
    assert r.json() == {"status": "ok"}
    r = await client.http.get("/readyz")
    assert r.status_code == 200
    body = r.json()
    assert body["database"] == "ok"
    assert body["live_store"] == "ok"
    assert r.headers["x-request-id"]


async def test_request_id_is_echoed(client: Client) -> None:
    r = await client.http.get("/healthz", headers={"X-Request-ID": "abc123"})
    assert r.headers["x-request-id"] == "abc123"


async def test_openapi_lists_every_contract_endpoint(client: Client) -> None:
    spec = (await client.http.get("/openapi.json")).json()
    for path, methods in CONTRACT_PATHS.items():
        assert path in spec["paths"], path
        assert methods <= set(spec["paths"][path]), (path, methods)
    assert (await client.http.get("/docs")).status_code == 200


async def test_metrics_exposes_request_counters(client: Client) -> None:
    await client.http.get("/healthz")
    text = (await client.http.get("/metrics")).text
    assert "beidou_http_requests_total" in text
    assert 'route="/healthz"' in text


async def test_missing_and_bad_tokens_get_401_problem(client: Client) -> None:
    r = await client.http.get("/v1/me/plates")
    assert r.status_code == 401
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["status"] == 401
    assert r.headers["www-authenticate"] == "Bearer"
    for token in ("nonsense", "dr_forged", "op_x", "dv_y"):
        r = await client.http.get("/v1/me/plates", headers=bearer(token))
        assert r.status_code == 401, token


async def test_validation_error_is_problem_json(client: Client) -> None:
    r = await client.http.post("/v1/drivers", json={"name": "", "phone": "x"})
    assert r.status_code == 422
    body = r.json()
    assert r.headers["content-type"].startswith("application/problem+json")
    assert body["code"] == "validation"
    assert {tuple(e["loc"]) for e in body["errors"]} >= {("body", "name"), ("body", "phone")}


async def test_malformed_json_is_4xx_not_500(client: Client) -> None:
    r = await client.http.post(
        "/v1/drivers", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 422
    assert r.json()["status"] == 422


async def test_unknown_route_is_problem_404(client: Client) -> None:
    r = await client.http.get("/v1/nope")
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/problem+json")


async def test_tokens_are_stored_hashed(client: Client, backend: object) -> None:
    op = await client.operator()
    from sqlalchemy import select

    from parking.identity.models import Operator

    async with client.app.state.beidou.sessionmaker() as db:
        stored = (await db.scalars(select(Operator.token_hash))).all()
    assert op.token not in stored
    assert all(len(h) == 64 for h in stored)
