"""The OpenAPI states the rules the server enforces, so a client generated from it sends what the
server accepts: a typed tariff, required headers, the plate format, timestamps as RFC 3339 text,
the OpenALPR webhook body, and the problem answers."""

from __future__ import annotations

from typing import Any

from tests.support import Client


def _resolve(spec: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        node = spec["components"]["schemas"][name]
    return node


def _body_schema(spec: dict[str, Any], path: str, method: str = "post") -> dict[str, Any]:
    body = spec["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]
    return _resolve(spec, body)


def _parameter(spec: dict[str, Any], path: str, name: str, method: str = "post") -> dict[str, Any]:
    params = spec["paths"][path][method].get("parameters", [])
    return next(p for p in params if p["name"] == name)


async def test_openapi_states_what_the_server_enforces(client: Client) -> None:
    spec = (await client.http.get("/openapi.json")).json()
    # a lot's tariff is a typed object, not a free-form one
    lot_in = _body_schema(spec, "/v1/operator/lots")
    tariff = _resolve(spec, lot_in["properties"]["tariff"])
    assert set(tariff["required"]) == {"unit_minutes", "bands"}
    assert tariff["properties"]["unit_minutes"]["minimum"] == 1
    assert tariff["properties"]["bands"]["minItems"] == 1
    band = _resolve(spec, tariff["properties"]["bands"]["items"])
    assert band["properties"]["start"]["pattern"] and band["properties"]["unit_fen"]["minimum"] == 0
    cancellation = tariff["properties"]["cancellation"]["anyOf"][0]
    assert _resolve(spec, cancellation)["properties"]["fee_pct"]["maximum"] == 100
    # the Idempotency-Key is required where the server requires it
    for path in ("/v1/sessions/{session_id}/pay", "/v1/bookings/{booking_id}/pay"):
        key = _parameter(spec, path, "Idempotency-Key")
        assert key["in"] == "header" and key["required"] is True
        assert key["schema"]["minLength"] == 1 and key["schema"]["maxLength"] == 128
    # the plate format is described where plates go in
    read = _body_schema(spec, "/v1/devices/anpr")
    assert "province character" in read["properties"]["plate"]["description"]
    # timestamps are date-time strings (never numbers)
    assert read["properties"]["ts"] == {"type": "string", "format": "date-time", "title": "Ts"}
    # the OpenALPR webhook body is described
    webhook = spec["paths"]["/v1/devices/anpr/openalpr"]["post"]["requestBody"]
    assert webhook["required"] is True
    kinds = {v["title"]: v for v in webhook["content"]["application/json"]["schema"]["oneOf"]}
    assert set(kinds) == {"alpr_group", "alpr_results"}
    assert set(kinds["alpr_group"]["properties"]) >= {"data_type", "best_plate_number", "epoch_start"}
    # refusals are documented: a future timestamp is a 422 of the device endpoints
    assert "future_timestamp" in spec["paths"]["/v1/devices/anpr"]["post"]["responses"]["422"]["description"]
    gate = _resolve(
        spec,
        spec["paths"]["/v1/devices/anpr"]["post"]["responses"]["201"]["content"]["application/json"][
            "schema"
        ],
    )
    assert set(gate["required"]) >= {"gate", "reason", "session_id", "flagged"}
