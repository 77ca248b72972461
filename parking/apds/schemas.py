"""The APDS objects we export, as the APDS API's JSON names them (camelCase on the wire).

Only the attributes we fill are declared; ``None`` means "not sent" (the router drops them), since
APDS attributes are optional unless its schema requires them. Names, types and required
attributes follow the working group's OpenAPI description (``tests/data/standards/apds``);
where it misspells (``hierachyElement``) we spell as it does, because clients parse its names.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel


class Apds(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True)


class LangString(Apds):
    """One entry of a MultilingualString: an ISO 639-1 language and the text in it."""

    language: str
    string: str


Text = list[LangString]


class VersionedRef(Apds):
    """VersionedReference: id + version of an identifiable object, and its class."""

    id: str
    version: int = 1
    class_name: str | None = None


class Reference(Apds):
    """Reference: a class name and an identifier unique within that class."""

    class_name: str
    id: str


class GeoPoint(Apds):
    """GeoJSON Point, ``[lon, lat]`` in WGS 84."""

    type: Literal["Point"] = "Point"
    coordinates: tuple[float, float]


class GeoMultiPolygon(Apds):
    """GeoJSON MultiPolygon of 2D positions (APDS points have exactly two coordinates)."""

    type: Literal["MultiPolygon"] = "MultiPolygon"
    coordinates: list[list[list[tuple[float, float]]]]


# --- places -----------------------------------------------------------------------------------


class AddressLine(Apds):
    order: int
    text: Text
    type: str


class Address(Apds):
    address_lines: list[AddressLine]
    country_code: str | None = None


class ElementRecord(Apds):
    """HierarchyElementRecord."""

    creation_time: datetime


class Supply(Apds):
    supply_view_type: Literal["spaceView", "vehicleView"]
    supply_quantity: int


class DemandType(Apds):
    """Occupied spaces of an element, with how the count was obtained."""

    count: int
    occupancy_calculation: Literal["counted", "derived", "expected", "verified"]
    percentage: float | None = None
    record_date_time: datetime


class DemandTable(Apds):
    frequency: str | None = None
    timestamp: datetime
    demand_type: list[DemandType]


class ElementReference(Apds):
    """HierarchyElementReference: the element, its supply and demand (occupancy)."""

    element_id: VersionedRef
    supply: list[Supply] | None = None
    demand_table: list[DemandTable] | None = None


class CodeListEntry(Apds):
    """ReferencedCodeListEntry of a code list we define (its value is the whole meaning)."""

    entry_defined_value: str


class OccupancyLevel(Apds):
    occupancy_indicator: CodeListEntry


class Characteristics(Apds):
    access_controlled: bool | None = None
    disabled_access: bool | None = None
    ev_charging_points: int | None = None
    open_to_public: bool | None = None
    spaces_non_dedicated: int | None = None
    spaces_total: int
    structure_type: Literal["offStreetStructure", "offStreetSurface", "onStreet"] | None = None


class ContactPoint(Apds):
    """The contact of a role (for us: the operator) for an element."""

    id: str
    version: int = 1
    type: Literal["operator"] = "operator"
    organisation_name: Text
    share_with_public: bool = True


class OperatingRestriction(Apds):
    operating_restriction: Literal["electricVehicleOnly", "disabledPersonPermitOnly"]


class Place(Apds):
    """A lot: the top (layer 0) of its own hierarchy; its spaces are its children."""

    id: str
    version: int = 1
    name: Text
    layer: int = 0
    type: Literal["parkingPlace"] = "parkingPlace"
    hierarchy_element_record: ElementRecord
    child_ids: list[VersionedRef] | None = None
    hierarchy_element_reference: ElementReference | None = None
    occupancy_level: OccupancyLevel | None = None
    time_zone: str
    place_street_address: list[Address] | None = None
    place_bounded_zone: list[GeoMultiPolygon] | None = None
    indicative_place_point_location: list[GeoPoint] | None = None
    characteristics: list[Characteristics] | None = None
    contacts: list[ContactPoint] | None = None


class Space(Apds):
    """A space of a lot (layer 1)."""

    id: str
    version: int = 1
    name: Text
    layer: int = 1
    type: Literal["space"] = "space"
    hierarchy_element_record: ElementRecord
    parent_id: VersionedRef
    operator_defined_reference: Text
    space_id: Reference
    detection: Literal["spaceSensor"] | None = None
    indicative_point_location: GeoPoint
    space_bounded_zone: GeoMultiPolygon | None = None
    operating_restrictions: list[OperatingRestriction] | None = None


Element = Annotated[Place | Space, Field(discriminator="type")]


# --- rates ------------------------------------------------------------------------------------


class RateLine(Apds):
    sequence: int
    rate_line_type: Literal["flatRate", "flatRateTier", "incrementingRate"]
    value: float
    increment_period: str | None = None
    duration_start: str | None = None
    duration_end: str | None = None
    description: str | None = None


class RateLineCollection(Apds):
    applicable_currency: str
    collection_sequence: int
    min_time: str
    max_time: str
    max_value_collection: float | None = None
    relative_times: bool = False
    reset_time: str
    tax_included: bool = True
    valid_start: datetime
    rate_lines: list[RateLine]


class RateTable(Apds):
    id: str
    version: int = 1
    rate_table_name: Text
    validity_start: datetime
    active_times: list[str]
    availability: Literal["public", "private", "restricted"] = "public"
    rate_responsible_party: VersionedRef
    rate_line_collections: list[RateLineCollection]


# --- sessions ---------------------------------------------------------------------------------


class Credential(Apds):
    """A credential held by the session's holder: for us the plate, as its keyed hash only."""

    identifier: Reference
    issuer: Text
    type: Literal["licensePlate"] = "licensePlate"


class AmountInCurrency(Apds):
    currency_type: str
    currency_value: float


class MonetaryValue(Apds):
    tax_included: bool = True
    service_provider: VersionedRef
    value: AmountInCurrency


class RightHolder(Apds):
    credentials: list[Credential]


class AssignedRight(Apds):
    """The right a stay used (a booking, or the right the gate grants at entry) with its fee."""

    id: str
    version: int = 1
    right_holder: RightHolder
    right_specification: VersionedRef
    monetary_value: MonetaryValue


class Segment(Apds):
    id: str
    version: int = 1
    actual_start: datetime
    actual_end: datetime | None = None
    assigned_right: AssignedRight
    validation_type: list[Literal["licensePlate"]]


class Session(Apds):
    id: str
    version: int = 1
    actual_start: datetime
    actual_end: datetime | None = None
    initiator: VersionedRef
    identified_credentials: list[Credential]
    segments: list[Segment]
    hierachy_element: VersionedRef  # sic: the APDS API's spelling


# --- lists ------------------------------------------------------------------------------------


class PageMeta(Apds):
    """PaginatedListMeta: ``reference_instant`` (Unix seconds) fixes what the pages list."""

    reference_instant: int
    offset: int
    page_size: int
    total: int


class PlacesPage(Apds):
    meta: PageMeta
    data: list[Element]


class RatesPage(Apds):
    meta: PageMeta
    data: list[RateTable]


class SessionsPage(Apds):
    meta: PageMeta
    data: list[Session]
