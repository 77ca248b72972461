"""The demo district: real places of Yangpu District, Shanghai, with plausible lots.

Coordinates are approximate real locations (WGS84, read off public maps to ~100 m); capacities,
tariffs and windows are illustrative, in the range Shanghai's published parking prices use
(day 5-15 yuan/hour in commercial centres, lower at night, daily caps).
"""

from __future__ import annotations

import math
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from parking.bookings import service as bookings
from parking.bookings.schemas import BookingIn
from parking.charging import service as charging
from parking.charging.schemas import ChargePointIn, ConnectorIn, ConnectorType
from parking.identity import service as identity
from parking.identity.access import ADMIN, Principal
from parking.identity.schemas import DeviceIn, DeviceKind, ReceiverIn, Role
from parking.lots import service as lots
from parking.lots.schemas import LotIn, LotKind, SharedWindow, SpaceIn, SpaceKind
from parking.ntrip import service as ntrip
from parking.unit import Ctx

OPERATOR_NAME = "Yangpu District Parking (demo)"

CENTRE_TARIFF: dict[str, Any] = {
    "free_minutes": 15,
    "unit_minutes": 30,
    "bands": [
        {"start": "08:00", "end": "20:00", "unit_fen": 500},
        {"start": "20:00", "end": "08:00", "unit_fen": 200},
    ],
    "daily_cap_fen": 6000,
    # cancelling a booking is free until an hour before it starts, then costs half its price
    "cancellation": {"free_until_min": 60, "fee_pct": 50},
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
# Charging: Shanghai's time-of-use electricity plus a service fee, in the range public chargers
# post (valley about 0.8 yuan/kWh, the rest of the day about 1.6), and an idle fee after 30 min.
ENERGY_TARIFF: dict[str, Any] = {
    "bands": [
        {"start": "08:00", "end": "22:00", "fen_per_kwh": 160},
        {"start": "22:00", "end": "08:00", "fen_per_kwh": 80},
    ],
    "idle_fen_per_min": 50,
    "idle_grace_min": 30,
}
CHARGING_CENTRE_TARIFF: dict[str, Any] = {**CENTRE_TARIFF, "energy": ENERGY_TARIFF}
CHARGING_SHARED_TARIFF: dict[str, Any] = {**SHARED_TARIFF, "energy": ENERGY_TARIFF}


@dataclass(frozen=True)
class DemoLot:
    name: str
    lat: float
    lon: float
    kind: LotKind
    capacity: int
    spaces: int
    tariff: dict[str, Any]
    address: str


LOTS: tuple[DemoLot, ...] = (
    DemoLot(
        "Wujiaochang Wanda Plaza Garage",
        31.3003,
        121.5136,
        LotKind.GARAGE,
        400,
        40,
        CHARGING_CENTRE_TARIFF,
        "Songhu Rd & Handan Rd, Wujiaochang",
    ),
    DemoLot(
        "Daxue Road Surface Lot",
        31.3056,
        121.5060,
        LotKind.SURFACE,
        24,
        24,
        CENTRE_TARIFF,
        "Daxue Rd near Guoquan Rd",
    ),
    DemoLot(
        "Yangpu Riverside On-street (Yangshupu Rd)",
        31.2585,
        121.5265,
        LotKind.ON_STREET,
        16,
        16,
        STREET_TARIFF,
        "Yangshupu Rd, Yangpu Riverside",
    ),
    DemoLot(
        "Changyang Campus Garage",
        31.2708,
        121.5293,
        LotKind.GARAGE,
        220,
        20,
        CENTRE_TARIFF,
        "Changyang Rd, Changyang Campus",
    ),
    DemoLot(
        "Tongji University Area On-street (Siping Rd)",
        31.2840,
        121.5035,
        LotKind.ON_STREET,
        12,
        12,
        STREET_TARIFF,
        "Siping Rd near Tongji University",
    ),
    DemoLot(
        "Xinjiangwan Residential Shared Spaces",
        31.3330,
        121.5045,
        LotKind.RESIDENTIAL_SHARED,
        10,
        10,
        CHARGING_SHARED_TARIFF,
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
        LotKind.GARAGE,
        300,
        30,
        CENTRE_TARIFF,
        "Wabash Ave & 7th St, Terre Haute, IN",
    ),
    DemoLot(
        "Honey Creek Mall Park & Ride",
        39.4290,
        -87.4190,
        LotKind.SURFACE,
        30,
        30,
        SHARED_TARIFF,
        "Honey Creek Mall, US-41, Terre Haute, IN",
    ),
    DemoLot(
        "Union Hospital Visitor Lot",
        39.4840,
        -87.4080,
        LotKind.SURFACE,
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


SHANGHAI = ZoneInfo("Asia/Shanghai")

# The demo driver: a new-energy car with an in-vehicle receiver that streams raw observations
# (cloud RTK), and a booking at the Daxue Road lot.
DEMO_DRIVER_NAME = "Demo Driver"
DEMO_DRIVER_PHONE = "+86 138 0000 0000"
DEMO_PLATE = "沪AD12345"
DEMO_BOOKING_LOT = "Daxue Road Surface Lot"

# Base stations of the demo caster. The district has no public RTCM capture of its own: the
# simulator replays real captures of other places (tests/data/gnss/rtcm3), so these mounts sit
# where those receivers stood. (name, sourcetable identifier)
DEMO_MOUNTS: tuple[tuple[str, str], ...] = (
    ("HIROSHIMA-OEM729", "Hiroshima JP, NovAtel OEM729 (recorded 2022-12-13)"),
    ("UBLOX-F9P", "u-blox ZED-F9P base (pygnssutils capture)"),
    ("RTKLIB-TESTGLO", "RTKLIB test base, legacy RTK 1004/1012"),
)
# Chargers (OCPP 1.6J): two of the garage's EV spaces, and a resident's private charger shared
# with the public in the residential lot's windows (the resident keeps 70 % of what it earns).
# (charge_point_id, lot, space code, connector type, max kW, owner, owner's share %)
DEMO_CHARGERS: tuple[tuple[str, str, str, str, float, str | None, int], ...] = (
    ("CP-WJC-A09", "Wujiaochang Wanda Plaza Garage", "A09", "GB/T DC", 60.0, None, 0),
    ("CP-WJC-B09", "Wujiaochang Wanda Plaza Garage", "B09", "GB/T AC", 7.0, None, 0),
    ("CP-XJW-A09", "Xinjiangwan Residential Shared Spaces", "A09", "GB/T AC", 7.0, "Resident Zhang", 70),
)
# The EV driver of the demo: parks at the garage and charges at CP-WJC-B09.
DEMO_EV_DRIVER = ("Demo EV Driver", "+86 139 0000 0000", "沪AD66888")

# rover accounts of the demo fleet that pull corrections through NEAREST
DEMO_NTRIP_USERS = ("fleet-01",)
CLOUD_RTK_USER = "cloud-rtk"  # the receiver listener's own account for its rovers' bases
# operator-owned receivers replaying NMEA captures (patrol vehicles)
DEMO_NMEA_VEHICLES = ("Patrol car 1 (Trimble RTK)", "Patrol car 2 (u-blox M9N)")


def _space_grid(lot: DemoLot, count: int) -> list[SpaceIn]:
    """Spaces laid out in rows of ten, 2.5 m apart, 6 m between rows, around the lot centre."""
    metres_per_deg_lat = 111_320.0
    metres_per_deg_lon = metres_per_deg_lat * math.cos(math.radians(lot.lat))
    out = []
    for i in range(count):
        row, col = divmod(i, 10)
        kind = SpaceKind.EV if i % 10 == 8 else SpaceKind.ACCESSIBLE if i % 10 == 9 else SpaceKind.STANDARD
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
    operator = await identity.create_operator(ctx, ADMIN, OPERATOR_NAME)
    op = Principal(Role.OPERATOR, operator.id)
    lots_out = []
    for spec in LOTS:
        lot = await lots.create_lot(
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
                entrances=2 if spec.kind == LotKind.GARAGE else 1,
            ),
        )
        spaces = await lots.add_spaces(ctx, op, lot.id, _space_grid(spec, spec.spaces))
        if spec.kind == LotKind.RESIDENTIAL_SHARED:
            for space in spaces:
                await lots.set_shared_windows(ctx, op, space.id, SHARED_WINDOWS)
        camera = await lots.add_device(
            ctx, op, DeviceIn(lot_id=lot.id, kind=DeviceKind.ANPR_CAMERA, name=f"{spec.name} gate camera")
        )
        sensor = await lots.add_device(
            ctx, op, DeviceIn(lot_id=lot.id, kind=DeviceKind.OCCUPANCY_SENSOR, name=f"{spec.name} sensors")
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
    lots_by_name: dict[str, dict[str, Any]] = {str(lot["name"]): lot for lot in lots_out}
    vehicles = []
    for name in DEMO_NMEA_VEHICLES:
        device = await lots.add_device(
            ctx,
            op,
            DeviceIn(
                lot_id=uuid.UUID(lots_by_name[LOTS[0].name]["id"]), kind=DeviceKind.GNSS_RECEIVER, name=name
            ),
        )
        vehicles.append({"id": str(device.id), "token": device.token, "name": name})
    chargers = []
    for cp_id, lot_name, code, connector, kw, owner, share in DEMO_CHARGERS:
        created = await charging.register(
            ctx,
            op,
            ChargePointIn(
                lot_id=uuid.UUID(lots_by_name[lot_name]["id"]),
                space_code=code,
                charge_point_id=cp_id,
                connectors=[ConnectorIn(connector_id=1, type=ConnectorType(connector), max_kw=kw)],
                owner_name=owner,
                owner_share_pct=share,
            ),
        )
        chargers.append(
            {"charge_point_id": cp_id, "password": created.password, "lot_id": str(created.lot_id), "kw": kw}
        )
    ev_name, ev_phone, ev_plate = DEMO_EV_DRIVER
    ev = await identity.register_driver(ctx, ev_name, ev_phone)
    await identity.add_plate(ctx, Principal(Role.DRIVER, ev.id), ev_plate)
    return {
        "operator_id": str(operator.id),
        "operator_token": operator.token,
        "lots": lots_out,
        "chargers": chargers,
        "ev_driver": {
            "id": str(ev.id),
            "token": ev.token,
            "plate": ev_plate,
            "charge_point_id": "CP-WJC-B09",
        },
        "driver": await _demo_driver(ctx, uuid.UUID(lots_by_name[DEMO_BOOKING_LOT]["id"])),
        "gnss": {"vehicles": vehicles},
        "ntrip": await _demo_ntrip(ctx, operator.id),
    }


def _next_local_hour(now: datetime) -> datetime:
    local = now.astimezone(SHANGHAI).replace(minute=0, second=0, microsecond=0)
    return local + timedelta(hours=1)


async def _demo_driver(ctx: Ctx, lot_id: uuid.UUID) -> dict[str, Any]:
    """A driver with a plate, a booking an hour ahead and a cloud-RTK receiver in the car."""
    creds = await identity.register_driver(ctx, DEMO_DRIVER_NAME, DEMO_DRIVER_PHONE)
    driver = Principal(Role.DRIVER, creds.id)
    plate, _ = await identity.add_plate(ctx, driver, DEMO_PLATE)
    start = _next_local_hour(ctx.now) + timedelta(hours=1)
    booking, _ = await bookings.create_booking(
        ctx,
        driver,
        BookingIn(lot_id=lot_id, start=start, end=start + timedelta(hours=2), plate=DEMO_PLATE),
        None,
    )
    receiver = await identity.create_receiver(
        ctx, driver, ReceiverIn(plate=DEMO_PLATE, name="Demo car, raw observations (cloud RTK)")
    )
    return {
        "id": str(creds.id),
        "token": creds.token,
        "name": DEMO_DRIVER_NAME,
        "plate": plate.plate,
        "booking_id": str(booking.id),
        "receiver_id": str(receiver.id),
        "receiver_token": receiver.token,
    }


async def _demo_ntrip(ctx: Ctx, operator_id: uuid.UUID) -> dict[str, Any]:
    """The operator's base-station mounts, a fleet account and the cloud-RTK account, with
    random passwords (stored scrypt-hashed; the plain ones go to the credentials file only)."""
    bases = []
    for name, identifier in DEMO_MOUNTS:
        password = secrets.token_urlsafe(12)
        await ntrip.create_mount(ctx, Principal(Role.OPERATOR, operator_id), name, password, identifier)
        bases.append({"mount": name, "password": password})
    users = []
    for name in (*DEMO_NTRIP_USERS, CLOUD_RTK_USER):
        password = secrets.token_urlsafe(12)
        await ntrip.create_user(ctx, ADMIN, name, password)
        users.append({"name": name, "password": password})
    return {"bases": bases, "users": users[:-1], "cloud_rtk": users[-1]}


async def is_loaded(ctx: Ctx) -> bool:
    return any(lot.name == LOTS[0].name for lot in await lots.all_lots(ctx))
