"""Property-based run over our own OpenAPI (schemathesis): whatever a client sends, no 5xx.

Requests go to a real uvicorn server, with a credential that fits each path so generated input
reaches the domain code and not only the authentication check.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.support import ADMIN_TOKEN


@pytest.fixture
def api_schema(live_server: Any) -> Any:
    return schemathesis.openapi.from_url(f"{live_server.url}/openapi.json").exclude(path_regex="/live$")


@pytest.fixture
def tokens(live_server: Any) -> dict[str, str]:
    with httpx.Client(base_url=live_server.url, timeout=10) as http:
        admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        op = http.post("/v1/admin/operators", json={"name": "op"}, headers=admin).json()
        oph = {"Authorization": f"Bearer {op['token']}"}
        lot = http.post(
            "/v1/operator/lots",
            json={
                "name": "L",
                "lat": 31.3,
                "lon": 121.5,
                "kind": "surface",
                "capacity": 5,
                "tariff": {
                    "free_minutes": 15,
                    "unit_minutes": 30,
                    "bands": [{"start": "00:00", "end": "00:00", "unit_fen": 300}],
                },
            },
            headers=oph,
        ).json()
        http.post(
            f"/v1/operator/lots/{lot['id']}/spaces",
            json=[{"code": "S1", "lat": 31.3, "lon": 121.5}],
            headers=oph,
        )
        cam = http.post(
            "/v1/operator/devices",
            json={"lot_id": lot["id"], "kind": "anpr_camera", "name": "c"},
            headers=oph,
        ).json()
        sensor = http.post(
            "/v1/operator/devices",
            json={"lot_id": lot["id"], "kind": "occupancy_sensor", "name": "s"},
            headers=oph,
        ).json()
        drv = http.post("/v1/drivers", json={"name": "d", "phone": "+86 138 0000 0000"}).json()
        http.post(
            "/v1/me/plates", json={"plate": "沪A12345"}, headers={"Authorization": f"Bearer {drv['token']}"}
        )
    return {
        "admin": ADMIN_TOKEN,
        "operator": op["token"],
        "driver": drv["token"],
        "camera": cam["token"],
        "sensor": sensor["token"],
    }


def _role_for(path: str) -> str:
    if path.startswith("/v1/admin"):
        return "admin"
    if path.startswith("/v1/operator"):
        return "operator"
    if path.startswith("/v1/devices/occupancy"):
        return "sensor"
    if path.startswith("/v1/devices"):
        return "camera"
    return "driver"


def test_no_input_makes_the_server_fail(api_schema: Any, tokens: dict[str, str]) -> None:
    checked = 0
    for result in api_schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
        def check(case: Any) -> None:
            headers = {"Authorization": f"Bearer {tokens[_role_for(case.path)]}"}
            response = case.call(headers=headers, timeout=10)
            where = f"{case.method} {case.formatted_path}"
            assert response.status_code < 500, f"{where} -> {response.status_code}: {response.text[:500]}"
            if response.status_code >= 400:
                content_type = response.headers.get("content-type") or [""]
                assert str(content_type[0]).startswith("application/problem+json"), where

        check()
        checked += 1
    assert checked >= 30  # every operation of the API, not a handful
