"""Our objects as APDS objects: pure functions, no I/O (the service reads, this maps).

The choices (which APDS attribute holds which of ours, and why) are the README's "Open data
(APDS)" section; the comments here say what the code has to get exactly right.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from parking.apds.schemas import (
    Address,
    AddressLine,
    AmountInCurrency,
    AssignedRight,
    Characteristics,
    CodeListEntry,
    ContactPoint,
    Credential,
    DemandTable,
    DemandType,
    ElementRecord,
    ElementReference,
    GeoMultiPolygon,
    GeoPoint,
    LangString,
    MonetaryValue,
    OccupancyLevel,
    OperatingRestriction,
    Place,
    RateLine,
    RateLineCollection,
    RateTable,
    Reference,
    RightHolder,
    Segment,
    Session,
    Space,
    Supply,
    Text,
    VersionedRef,
)
from parking.lots.models import Lot
from parking.lots.models import Space as LotSpace
from parking.lots.schemas import LotKind, SpaceKind
from parking.lots.states import GATE_COUNTED
from parking.lots.tariff import SHANGHAI, Band, Tariff

TIME_ZONE = SHANGHAI.key  # IANA name: APDS relative times (band hours) are in the place's zone
COUNTRY = "cn"  # ISO 3166-1, lower case as the APDS CountryCode pattern wants
CURRENCY = "CNY"
MINOR_UNIT_DIGITS = 2  # ISO 4217 minor unit of CNY: 1 yuan = 100 fen
FEN_PER_YUAN: int = 10**MINOR_UNIT_DIGITS
SNAPSHOT_PERIOD = "PT30S"  # the availability room refreshes every lot at least this often
ALL_DAY = "P1D"  # RateTable.activeTimes: the table applies the whole day, every day
NO_MAXIMUM_STAY = "P100Y"  # RateLineCollection.maxTime is required; our tariffs set no maximum
PERIOD_FROM_ENTRY = "PT24H"  # the daily cap is per 24 h counted from entry, not per calendar day
PLATE_HASH_CLASS = "PlateHmacSha256"
PLATE_HASH_ISSUER = "parking resource center: HMAC-SHA256 of the normalised plate under its key"

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_STRUCTURE = {LotKind.GARAGE: "offStreetStructure", LotKind.SURFACE: "offStreetSurface"}
_STRUCTURE[LotKind.ON_STREET] = "onStreet"
_RESTRICTION = {SpaceKind.EV: "electricVehicleOnly", SpaceKind.ACCESSIBLE: "disabledPersonPermitOnly"}


def text(value: str) -> Text:
    """A MultilingualString of one entry. We store names in the language the operator typed:
    Chinese when it holds Han characters, else English (pinyin and codes read as English)."""
    return [LangString(language="zh" if _CJK.search(value) else "en", string=value)]


def utc(instant: datetime) -> datetime:
    """APDS gives every instant in UTC."""
    return instant.astimezone(UTC)


def yuan(fen: int) -> float:
    """An amount in fen as the number of yuan APDS carries. Exact: ``n / 100`` is the double
    nearest to the decimal ``n/100``, and JSON writes that double back as that decimal."""
    return fen / FEN_PER_YUAN


def ref(id_: object, class_name: str) -> VersionedRef:
    return VersionedRef(id=str(id_), class_name=class_name)


def operator_ref(operator_id: object) -> VersionedRef:
    return ref(operator_id, "Organisation")


def total_spaces(lot: Lot, spaces: Sequence[LotSpace]) -> int:
    """What the lot offers, as the availability room counts it: a gate-counted garage its
    capacity, a sensed lot its registered spaces."""
    return lot.capacity if lot.kind == GATE_COUNTED else len(spaces)


# --- places -----------------------------------------------------------------------------------


def _point(lat: float, lon: float) -> GeoPoint:
    return GeoPoint(coordinates=(lon, lat))


def _zone(polygon: Mapping[str, Any]) -> GeoMultiPolygon:
    """Our GeoJSON Polygon as the MultiPolygon APDS takes (one polygon), heights dropped."""
    rings = [[(float(p[0]), float(p[1])) for p in ring] for ring in polygon["coordinates"]]
    return GeoMultiPolygon(coordinates=[rings])


def _characteristics(lot: Lot, spaces: Sequence[LotSpace]) -> Characteristics:
    # a garage is counted by its capacity: spaces registered in it (if any) are no inventory of it
    counted = lot.kind == GATE_COUNTED
    kinds = [s.kind for s in spaces]
    return Characteristics(
        spaces_total=total_spaces(lot, spaces),
        spaces_non_dedicated=None if counted else kinds.count(SpaceKind.STANDARD),
        ev_charging_points=None if counted else kinds.count(SpaceKind.EV),
        disabled_access=None if counted else SpaceKind.ACCESSIBLE in kinds,
        open_to_public=True,
        access_controlled=True if counted else None,
        structure_type=_STRUCTURE.get(LotKind(lot.kind)),
    )


def place(lot: Lot, spaces: Sequence[LotSpace], operator_name: str) -> Place:
    return Place(
        id=str(lot.id),
        name=text(lot.name),
        hierarchy_element_record=ElementRecord(creation_time=utc(lot.created_at)),
        child_ids=[ref(s.id, "Space") for s in spaces] or None,
        hierarchy_element_reference=ElementReference(
            element_id=ref(lot.id, "Place"),
            supply=[Supply(supply_view_type="spaceView", supply_quantity=total_spaces(lot, spaces))],
        ),
        time_zone=TIME_ZONE,
        place_street_address=(
            [
                Address(
                    address_lines=[AddressLine(order=0, text=text(lot.address), type="street")],
                    country_code=COUNTRY,
                )
            ]
            if lot.address
            else None
        ),
        place_bounded_zone=[_zone(lot.polygon)] if lot.polygon else None,
        indicative_place_point_location=[_point(lot.lat, lot.lon)],
        characteristics=[_characteristics(lot, spaces)],
        contacts=[ContactPoint(id=str(lot.operator_id), organisation_name=text(operator_name))],
    )


def space(lot: Lot, row: LotSpace) -> Space:
    restriction = _RESTRICTION.get(SpaceKind(row.kind))
    return Space(
        id=str(row.id),
        name=text(row.code),
        hierarchy_element_record=ElementRecord(creation_time=utc(row.created_at)),
        parent_id=ref(lot.id, "Place"),
        operator_defined_reference=text(row.code),
        space_id=Reference(class_name="Space", id=str(row.id)),
        detection=None if lot.kind == GATE_COUNTED else "spaceSensor",
        indicative_point_location=_point(row.lat, row.lon),
        space_bounded_zone=_zone(row.polygon) if row.polygon else None,
        operating_restrictions=(
            [OperatingRestriction(operating_restriction=restriction)] if restriction else None
        ),
    )


def _percent(count: int, of: int) -> float:
    # DemandType.percentage is 0..100; an overfull garage (more cars than capacity) reads 100
    return 100.0 if of <= 0 else round(min(100.0, 100.0 * count / of), 1)


def occupancy(lot: Lot, total: int, snapshot: Mapping[str, Any]) -> Place:
    """A lot's live snapshot as APDS occupancy: supply = spaces in service now; demand counted =
    cars in it; demand derived = cars + spaces held by bookings. So free = supply - derived,
    occupied = counted, reserved = derived - counted, out of service = spacesTotal - supply."""
    at = utc(datetime.fromisoformat(snapshot["at"]))
    occupied, reserved = int(snapshot["occupied"]), int(snapshot["reserved"])
    in_service = max(0, total - int(snapshot["out_of_service"]))
    free = int(snapshot["free_spaces"])
    level = "closed" if in_service == 0 else ("available" if free > 0 else "full")
    return Place(
        id=str(lot.id),
        name=text(lot.name),
        hierarchy_element_record=ElementRecord(creation_time=utc(lot.created_at)),
        time_zone=TIME_ZONE,
        characteristics=[Characteristics(spaces_total=total)],
        occupancy_level=OccupancyLevel(occupancy_indicator=CodeListEntry(entry_defined_value=level)),
        hierarchy_element_reference=ElementReference(
            element_id=ref(lot.id, "Place"),
            supply=[Supply(supply_view_type="spaceView", supply_quantity=in_service)],
            demand_table=[
                DemandTable(
                    frequency=SNAPSHOT_PERIOD,
                    timestamp=at,
                    demand_type=[
                        DemandType(
                            count=occupied,
                            occupancy_calculation="counted",
                            percentage=_percent(occupied, in_service),
                            record_date_time=at,
                        ),
                        DemandType(
                            count=occupied + reserved,
                            occupancy_calculation="derived",
                            percentage=_percent(occupied + reserved, in_service),
                            record_date_time=at,
                        ),
                    ],
                )
            ],
        ),
    )


# --- rates ------------------------------------------------------------------------------------


def _hhmm(minute_of_day: int) -> str:
    # APDS Time is HH:MM within 00:00..23:59: a band ending at 24:00 ends at 00:00, which our
    # wrap rule (end <= start runs past midnight) reads the same way
    minute_of_day %= 24 * 60
    return f"{minute_of_day // 60:02d}:{minute_of_day % 60:02d}"


def _band_line(sequence: int, band: Band, unit_minutes: int) -> RateLine:
    hours = f"{_hhmm(band.start_min)}-{_hhmm(band.end_min)}"
    if band.start_min == band.end_min % (24 * 60):
        hours = "all day"
    return RateLine(
        sequence=sequence,
        rate_line_type="incrementingRate",
        value=yuan(band.unit_fen),
        increment_period=f"PT{unit_minutes}M",
        duration_start=_hhmm(band.start_min),
        duration_end=_hhmm(band.end_min),
        description=(
            f"{yuan(band.unit_fen):.2f} {CURRENCY} per started {unit_minutes} min unit, units counted "
            f"from entry; a unit starting {hours} ({TIME_ZONE}) costs this"
        ),
    )


def rate_table(lot: Lot, tariff: Tariff) -> RateTable:
    """A lot's tariff: a free collection for stays up to the free minutes (when it has any), then
    one collection for longer stays whose lines are the time-of-day bands, capped per 24 h."""
    valid = utc(lot.created_at)
    collections = []
    if tariff.free_minutes:
        collections.append(
            RateLineCollection(
                applicable_currency=CURRENCY,
                collection_sequence=1,
                min_time="PT0S",
                max_time=f"PT{tariff.free_minutes}M",
                reset_time=PERIOD_FROM_ENTRY,
                valid_start=valid,
                rate_lines=[
                    RateLine(
                        sequence=1,
                        rate_line_type="flatRate",
                        value=0.0,
                        description=f"a stay of at most {tariff.free_minutes} min is free",
                    )
                ],
            )
        )
    bands = sorted(tariff.bands, key=lambda b: b.start_min)
    collections.append(
        RateLineCollection(
            applicable_currency=CURRENCY,
            collection_sequence=len(collections) + 1,
            min_time=f"PT{tariff.free_minutes}M",
            max_time=NO_MAXIMUM_STAY,
            max_value_collection=None if tariff.daily_cap_fen is None else yuan(tariff.daily_cap_fen),
            reset_time=PERIOD_FROM_ENTRY,
            valid_start=valid,
            rate_lines=[_band_line(i, band, tariff.unit_minutes) for i, band in enumerate(bands, start=1)],
        )
    )
    return RateTable(
        id=str(lot.id),
        rate_table_name=text(lot.name),
        validity_start=valid,
        active_times=[ALL_DAY],
        rate_responsible_party=operator_ref(lot.operator_id),
        rate_line_collections=collections,
    )


# --- sessions ---------------------------------------------------------------------------------


def plate_credential(plate_hash: str) -> Credential:
    """The plate as its keyed hash: the only form in which a plate leaves in APDS."""
    return Credential(
        identifier=Reference(class_name=PLATE_HASH_CLASS, id=plate_hash),
        issuer=text(PLATE_HASH_ISSUER),
    )


def session(
    *,
    session_id: object,
    lot_id: object,
    operator_id: object,
    plate_hash: str,
    entry: datetime,
    exit: datetime | None,
    fee_fen: int,
    booking_id: object | None,
) -> Session:
    credential = plate_credential(plate_hash)
    right = AssignedRight(
        # a booked stay used its booking; a walk-in, the right the gate granted at entry
        id=str(booking_id or session_id),
        right_holder=RightHolder(credentials=[credential]),
        right_specification=ref(lot_id, "RightSpecification"),
        monetary_value=MonetaryValue(
            service_provider=operator_ref(operator_id),
            value=AmountInCurrency(currency_type=CURRENCY, currency_value=yuan(fee_fen)),
        ),
    )
    start, end = utc(entry), exit and utc(exit)
    return Session(
        id=str(session_id),
        actual_start=start,
        actual_end=end,
        initiator=operator_ref(operator_id),
        identified_credentials=[credential],
        segments=[
            Segment(
                id=str(session_id),
                actual_start=start,
                actual_end=end,
                assigned_right=right,
                validation_type=["licensePlate"],
            )
        ],
        hierachy_element=ref(lot_id, "Place"),
    )
