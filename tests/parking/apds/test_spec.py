"""The APDS description we validate against: the copy is the published file, the OpenAPI 3.0
dialect is read as ``spec.py`` says, and each of its five corrections answers a real defect
(shown here on the uncorrected description, with a value the draft's own text describes)."""

from __future__ import annotations

import hashlib
import re
from typing import Any

import pytest

from tests.parking.apds import spec

ML = [{"language": "en", "string": "Lot A"}]
RECORD = {"creationTime": "2026-03-02T01:00:00Z"}
PLACE = {"id": "p1", "version": 1, "name": ML, "layer": 0, "type": "parkingPlace"}
PLACE |= {"hierarchyElementRecord": RECORD, "timeZone": "Asia/Shanghai"}
SQUARE = [[[[121.5, 31.3], [121.51, 31.3], [121.51, 31.31], [121.5, 31.3]]]]


def _places(*items: Any) -> dict[str, Any]:
    return {
        "meta": {"referenceInstant": 0, "offset": 0, "pageSize": 10, "total": len(items)},
        "data": list(items),
    }


def test_copy_is_the_published_file() -> None:
    readme = (spec.SPEC_PATH.parent / "README.md").read_text()
    digest = hashlib.sha256(spec.SPEC_PATH.read_bytes()).hexdigest()
    assert f"`{digest}`" in readme
    assert spec.load()["openapi"] == "3.0.0"


def test_no_openapi_keyword_is_left_unread() -> None:
    """Keywords of OpenAPI 3.0 with validation meaning that jsonschema does not know: ``nullable``
    is translated; the others must not appear, or they would be silently ignored."""
    keys = {k for _, node in spec.walk(spec.load()) if isinstance(node, dict) for k in node}
    assert not keys & {"discriminator", "readOnly", "writeOnly"}
    formats = {
        n["format"]
        for _, n in spec.walk(spec.load())
        if isinstance(n, dict) and isinstance(n.get("format"), str)
    }
    assert formats == {"date-time", "float", "url", "email"}  # every one is checked or a number format


def test_references_through_references_are_resolved() -> None:
    doc = spec.load()
    refs = [n["$ref"] for _, n in spec.walk(doc) if isinstance(n, dict) and "$ref" in n]
    through = [r for r in refs if spec.canonical(doc, r) != spec.pointer(spec.parts(r))]
    assert len(refs) == 390 and len(through) == 68
    for ref in through:  # each names a real schema once its path is followed
        assert isinstance(spec.node_at(doc, spec.parts(spec.canonical(doc, ref))), dict)


def test_formats_are_checked() -> None:
    at = spec.response_schema("/places")
    bad = dict(PLACE, hierarchyElementRecord={"creationTime": "2026-03-02 01:00"})
    assert any("date-time" in e for e in spec.errors(at, _places(bad)))
    assert spec.errors(at, _places(PLACE)) == []


def test_defect_every_place_is_also_a_campus() -> None:
    at = spec.response_schema("/places")
    assert any("valid under each of" in e for e in spec.errors(at, _places(PLACE), corrected=False))
    assert spec.errors(at, _places(PLACE)) == []
    # corrected, the type still decides: a parkingPlace without timeZone is no Place
    assert spec.errors(at, _places({k: v for k, v in PLACE.items() if k != "timeZone"}))


def test_defect_reference_cannot_hold_its_two_required_properties() -> None:
    at = spec.titled(spec.resolved(spec.load()), "Reference")
    assert any(
        "too many properties" in e
        for e in spec.errors(at, {"className": "Space", "id": "S1"}, corrected=False)
    )
    assert spec.errors(at, {"Space": "S1"}, corrected=False)  # the one-key form fails its required
    assert spec.errors(at, {"className": "Space", "id": "S1"}) == []
    assert spec.errors(at, {"className": "Space", "id": "S1", "extra": 1})  # still closed


def test_defect_a_credential_matches_all_three_identical_holder_credentials() -> None:
    at = spec.titled(spec.resolved(spec.load()), "HolderCredential")
    credential = {"identifier": {"className": "Plate", "id": "x"}, "issuer": ML, "type": "licensePlate"}
    assert spec.errors(at, credential, corrected=False)
    assert spec.errors(at, credential) == []
    assert spec.errors(at, {"issuer": ML})  # still requires its identifier


def test_defect_a_multipolygon_also_matches_the_empty_named_area() -> None:
    zone = {"type": "MultiPolygon", "coordinates": SQUARE}
    place = dict(PLACE, placeBoundedZone=[zone])
    at = spec.response_schema("/places")
    # uncorrected, the hierarchy defect hides this one: look at the area alone
    area = spec.titled(spec.resolved(spec.load()), "AreaLocation")
    assert any("valid under each of" in e for e in spec.errors(area, zone, corrected=False))
    assert spec.errors(at, _places(place)) == []
    assert spec.errors(
        at, _places(dict(PLACE, placeBoundedZone=[{"type": "MultiPolygon", "coordinates": [[["x"]]]}]))
    )


def test_defect_a_contact_point_also_matches_its_base() -> None:
    contact = {"id": "op", "version": 1, "type": "operator", "organisationName": ML}
    items = spec.titled(spec.resolved(spec.load()), "CommonComponents") + "/properties/contacts"
    assert any("valid under each of" in e for e in spec.errors(items, [contact], corrected=False))
    at = spec.response_schema("/places")
    assert spec.errors(at, _places(dict(PLACE, contacts=[contact]))) == []
    assert spec.errors(at, _places(dict(PLACE, contacts=[dict(contact, type="landlord")])))
    assert spec.errors(at, _places(dict(PLACE, contacts=[{"contactUnknown": True}]))) == []


@pytest.mark.parametrize("path", ["/places", "/rates", "/sessions"])
def test_an_empty_page_is_valid_and_a_page_needs_its_meta(path: str) -> None:
    at = spec.response_schema(path)
    assert (
        spec.errors(at, {"meta": {"referenceInstant": 1, "offset": 0, "pageSize": 1, "total": 0}, "data": []})
        == []
    )
    assert any(re.search("'meta' is a required property", e) for e in spec.errors(at, {"data": []}))
