"""The demo district: real places of Yangpu District, Shanghai, with plausible lots.

Coordinates are approximate real locations (WGS84, read off public maps to ~100 m); capacities,
tariffs and windows are illustrative, in the range Shanghai's published parking prices use
(day 5-15 yuan/hour in commercial centres, lower at night, daily caps).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from parking import registry
from parking import repository as repo
from parking.access import ADMIN, Principal
from parking.context import Ctx
from parking.schemas import DeviceIn, LotIn, SharedWindow, SpaceIn

OPERATOR_NAME = "Yangpu District Parking (demo)"

CENTRE_TARIFF: dict[str, Any] = {
    "free_minutes": 15,
    "unit_minutes": 30,
    "bands": [
        {"start": "08:00", "end": "20:00", "unit_fen": 500},
        {"start": "20:00", "end": "08:00", "unit_fen": 200},
    ],
    "daily_cap_fen": 6000,
}
STREET_TARIFF: dict[str, Any] = {
    "free_minutes": 15,
    "unit_minutes": 15,
    "bands": [
        {"start": "07:00", "end": "21:00", "unit_fen": 250},
        {"start": "21:00", "end": "07:00", "unit_fen": 100},
    ],
    "daily_cap_fen": 4000,
}
SHARED_TARIFF: dict[str, Any] = {
    "free_minutes": 10,
    "unit_minutes": 60,
    "bands": [{"start": "00:00", "end": "00:00", "unit_fen": 300}],
    "daily_cap_fen": 2000,
}


@dataclass(frozen=True)
class DemoLot:
    name: str
    lat: float
    lon: float
    kind: str
    capacity: int
    spaces: int
    tariff: dict[str, Any]
    address: str


LOTS: tuple[DemoLot, ...] = (
    DemoLot(
        "Wujiaochang Wanda Plaza Garage",
        31.3003,
        121.5136,
        "garage",
        400,
        40,
        CENTRE_TARIFF,
        "Songhu Rd & Handan Rd, Wujiaochang",
    ),
    DemoLot(
        "Daxue Road Surface Lot",
        31.3056,
        121.5060,
        "surface",
        24,
        24,
        CENTRE_TARIFF,
        "Daxue Rd near Guoquan Rd",
    ),
    DemoLot(
        "Yangpu Riverside On-street (Yangshupu Rd)",
        31.2585,
        121.5265,
        "on_street",
        16,
        16,
        STREET_TARIFF,
        "Yangshupu Rd, Yangpu Riverside",
    ),
    DemoLot(
        "Changyang Campus Garage",
        31.2708,
        121.5293,
        "garage",
        220,
        20,
        CENTRE_TARIFF,
        "Changyang Rd, Changyang Campus",
    ),
    DemoLot(
        "Tongji University Area On-street (Siping Rd)",
        31.2840,
        121.5035,
        "on_street",
        12,
        12,
        STREET_TARIFF,
        "Siping Rd near Tongji University",
    ),
    DemoLot(
        "Xinjiangwan Residential Shared Spaces",
        31.3330,
        121.5045,
        "residential_shared",
        10,
        10,
        SHARED_TARIFF,
        "Xinjiangwan Town, residential compound",
    ),
)

# The multimodal demo: the transport network shipped for the trip planner is Terre Haute's (the
# only real GTFS + OSM pair in our data, tests/data/mobility), so the demo also runs lots there:
# a downtown garage near the Wabash Avenue stops, and park-and-ride lots at stops on the edge.
TRIP_DEMO_LOTS: tuple[DemoLot, ...] = (
    DemoLot(
        "Terre Haute Downtown Garage (Wabash & 7th)",
        39.4660,
        -87.4125,
        "garage",
        300,
        30,
        CENTRE_TARIFF,
        "Wabash Ave & 7th St, Terre Haute, IN",
    ),
    DemoLot(
        "Honey Creek Mall Park & Ride",
        39.4290,
        -87.4190,
        "surface",
        30,
        30,
        SHARED_TARIFF,
        "Honey Creek Mall, US-41, Terre Haute, IN",
    ),
    DemoLot(
        "Union Hospital Visitor Lot",
        39.4840,
        -87.4080,
        "surface",
        20,
        20,
        STREET_TARIFF,
        "Union Hospital, 7th St, Terre Haute, IN",
    ),
)
LOTS = LOTS + TRIP_DEMO_LOTS

# Residents' spaces shared with the public on weekdays while residents are at work, and overnight
# at the weekend (the window crosses midnight).
SHARED_WINDOWS = [
    SharedWindow(days=[0, 1, 2, 3, 4], start="08:30", end="17:30"),
    SharedWindow(days=[5, 6], start="20:00", end="08:00"),
]


def _space_grid(lot: DemoLot, count: int) -> list[SpaceIn]:
    """Spaces laid out in rows of ten, 2.5 m apart, 6 m between rows, around the lot centre."""
    metres_per_deg_lat = 111_320.0
    metres_per_deg_lon = metres_per_deg_lat * math.cos(math.radians(lot.lat))
    out = []
    for i in range(count):
        row, col = divmod(i, 10)
        kind = "ev" if i % 10 == 8 else "accessible" if i % 10 == 9 else "standard"
        out.append(
            SpaceIn(
                code=f"{chr(ord('A') + row)}{col + 1:02d}",
                lat=lot.lat + (row * 6.0) / metres_per_deg_lat,
                lon=lot.lon + (col * 2.5) / metres_per_deg_lon,
                kind=kind,
                bookable=True,
            )
        )
    return out


async def load(ctx: Ctx) -> dict[str, Any]:
    """Create the demo district unless it exists; return the credentials the simulator needs."""
    operator = await registry.create_operator(ctx, ADMIN, OPERATOR_NAME)
    op = Principal("operator", operator.id)
    lots_out = []
    for spec in LOTS:
        lot = await registry.create_lot(
            ctx,
            op,
            LotIn(
                name=spec.name,
                lat=spec.lat,
                lon=spec.lon,
                kind=spec.kind,
                capacity=spec.capacity,
                tariff=spec.tariff,
                address=spec.address,
                entrances=2 if spec.kind == "garage" else 1,
            ),
        )
        spaces = await registry.add_spaces(ctx, op, lot.id, _space_grid(spec, spec.spaces))
        if spec.kind == "residential_shared":
            for space in spaces:
                await registry.set_shared_windows(ctx, op, space.id, SHARED_WINDOWS)
        camera = await registry.create_device(
            ctx, op, DeviceIn(lot_id=lot.id, kind="anpr_camera", name=f"{spec.name} gate camera")
        )
        sensor = await registry.create_device(
            ctx, op, DeviceIn(lot_id=lot.id, kind="occupancy_sensor", name=f"{spec.name} sensors")
        )
        lots_out.append(
            {
                "id": str(lot.id),
                "name": spec.name,
                "kind": spec.kind,
                "space_codes": [s.code for s in spaces],
                "camera_token": camera.token,
                "sensor_token": sensor.token,
            }
        )
    return {"operator_id": str(operator.id), "operator_token": operator.token, "lots": lots_out}


async def is_loaded(ctx: Ctx) -> bool:
    return any(lot.name == LOTS[0].name for lot in await repo.lots_of_operator(ctx.db, None))
