"""The APDS working group's OpenAPI 3.0 description, as a validator for our export's responses.

``validate(path, body)`` checks a response body against the schema the description gives for
``GET path`` with status 200 (``application/json``), every ``$ref`` resolved over the whole
document, and raises ``AssertionError`` listing every error.

How the OpenAPI 3.0 dialect is handled:

* OpenAPI 3.0 Schema Objects are JSON Schema draft Wright-00 (draft 5) with some keywords changed,
  so the schemas are run by jsonschema's ``Draft4Validator``: draft 4 has OpenAPI 3.0's boolean
  ``exclusiveMinimum``/``exclusiveMaximum`` (the description uses four), ignores the siblings of a
  ``$ref`` as OpenAPI 3.0 does, and knows no ``$id``/``$defs`` that could change how a pointer
  resolves.
* ``nullable: true`` (OpenAPI only) becomes ``anyOf: [schema, {type: null}]``. The description has
  none today; ``test_spec.py`` checks that no other OpenAPI-only keyword with validation meaning
  (``discriminator``, ``readOnly``, ``writeOnly``) appears, so a future copy that adds one fails
  loudly instead of being half-read. ``example``, ``x-*``, ``title`` carry no validation.
* Formats are checked, not skipped: ``date-time`` by RFC 3339 (jsonschema checks it only when an
  optional package is installed, so it is registered here), ``date``, ``email`` and the
  description's own ``url`` (an absolute http(s) URL). ``float`` and ``double`` are number formats
  with nothing left to check.
* The bundle (written by swagger-cli) has 68 ``$ref``s whose JSON pointer runs *through* another
  ``$ref`` (``.../data/items/oneOf/0/...`` where ``data/items`` is itself a reference). A JSON
  pointer does not follow references, so each is rewritten to the place it means by following the
  references met along the way; the whole document is then one Draft 4 resource for
  ``referencing``.

Five places of the draft contradict themselves, so that no document at all can validate against
them; each is corrected below (``CORRECTIONS``) in the smallest way that restores what the draft's
own text says, and ``test_spec.py`` shows each defect on the uncorrected description.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from jsonschema import Draft4Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

SPEC_PATH = Path(__file__).resolve().parents[2] / "data" / "standards" / "apds" / "APDS_API_bundled.json"
URI = "urn:apds:api-bundled"
Json = Any


def load() -> Json:
    return json.loads(SPEC_PATH.read_text())


# --- JSON pointers and references -----------------------------------------------------------


def parts(pointer: str) -> list[str]:
    assert pointer.startswith("#/"), pointer
    return [unquote(p).replace("~1", "/").replace("~0", "~") for p in pointer[2:].split("/")]


def pointer(segments: list[str]) -> str:
    return "#/" + "/".join(s.replace("~", "~0").replace("/", "~1") for s in segments)


def node_at(doc: Json, segments: list[str]) -> Json:
    for s in segments:
        doc = doc[s] if isinstance(doc, dict) else doc[int(s)]
    return doc


def canonical(doc: Json, ref: str, seen: frozenset[str] = frozenset()) -> str:
    """Where ``ref`` really points: references met part-way along its pointer are followed."""
    if ref in seen:
        raise ValueError(f"reference cycle through {ref}")
    node, path = doc, []
    for segment in parts(ref):
        while isinstance(node, dict) and "$ref" in node:
            path = parts(canonical(doc, node["$ref"], seen | {ref}))
            node = node_at(doc, path)
        node = node[segment] if isinstance(node, dict) else node[int(segment)]
        path.append(segment)
    return pointer(path)


def walk(doc: Json, path: list[str] | None = None) -> Iterator[tuple[list[str], Json]]:
    path = path or []
    yield path, doc
    if isinstance(doc, dict):
        for key, value in doc.items():
            yield from walk(value, [*path, key])
    elif isinstance(doc, list):
        for i, value in enumerate(doc):
            yield from walk(value, [*path, str(i)])


def titled(doc: Json, title: str) -> str:
    """The pointer of the one schema with this title (a bundle defines each component once)."""
    found = [pointer(p) for p, n in walk(doc) if isinstance(n, dict) and n.get("title") == title]
    assert len(found) == 1, f"expected one schema titled {title!r}, found {found}"
    return found[0]


def _refs(doc: Json) -> Iterator[dict[str, str]]:
    for _, n in walk(doc):
        if isinstance(n, dict) and isinstance(n.get("$ref"), str):
            yield n


def _move_refs(doc: Json, old: str, new: str) -> None:
    for ref in _refs(doc):
        if ref["$ref"] == old or ref["$ref"].startswith(old + "/"):
            ref["$ref"] = new + ref["$ref"][len(old) :]


def constrain(doc: Json, at: str, extra: Json) -> None:
    """Add ``extra`` to the schema at ``at`` (as ``allOf: [schema, extra]``) for the uses of that
    place only: references to the schema itself, or into it, are moved to its new position."""
    segments = parts(at)
    parent = node_at(doc, segments[:-1])
    key: Any = segments[-1] if isinstance(parent, dict) else int(segments[-1])
    parent[key] = {"allOf": [parent[key], extra]}
    _move_refs(doc, at, f"{at}/allOf/0")


def rename(doc: Json, at: str, old: str, new: str) -> None:
    node = node_at(doc, parts(at))
    node[new] = node.pop(old)
    _move_refs(doc, f"{at}/{old}", f"{at}/{new}")


def _translate(node: Json) -> Json:
    if isinstance(node, dict):
        if "$ref" in node:  # OpenAPI 3.0: a reference object's siblings are ignored
            return {"$ref": node["$ref"]}
        out = {k: _translate(v) for k, v in node.items()}
        if out.pop("nullable", False) is True:
            return {"anyOf": [out, {"type": "null"}]}
        return out
    if isinstance(node, list):
        return [_translate(v) for v in node]
    return node


def resolved(doc: Json) -> Json:
    """A copy whose every ``$ref`` names the place it means, in the draft 4 dialect."""
    out = _translate(doc)
    for ref in _refs(out):
        ref["$ref"] = canonical(doc, ref["$ref"])
    return out


# --- the draft's contradictions --------------------------------------------------------------

ELEMENT_TYPES = {
    "Campus": "campus",
    "Place": "parkingPlace",
    "IdentifiedArea": "identifiedArea",
    "Space": "space",
}


def _hierarchy_discriminated(doc: Json) -> None:
    """``HierarchyElementData`` is a ``oneOf`` of Campus, Place, Space...; a Campus is nothing but
    the common base (``HierarchyElementGeneral``) and no branch restricts ``type``, so every Place
    or Space also validates as a Campus (and an IdentifiedArea): ``oneOf`` then refuses them all.
    The element's ``type`` (``HierarchyElementTypeEnum``: campus, parkingPlace, space...) is the
    discriminator the model means; each branch is held to its value."""
    data = titled(doc, "HierarchyElementData")
    for i, branch in enumerate(node_at(doc, parts(data))["oneOf"]):
        title = branch.get("title")
        if title in ELEMENT_TYPES:
            extra = {"properties": {"type": {"enum": [ELEMENT_TYPES[title]]}}, "required": ["type"]}
            constrain(doc, f"{data}/oneOf/{i}", extra)


def _reference_cardinality(doc: Json) -> None:
    """``Reference`` requires ``className`` and ``id`` (its description: "composed of a string
    identifying the class ... and a unique string identifier", its examples ``UKNumberPlate``,
    ``LA51ABC``) yet allows at most one property (``maxProperties: 1``). The cardinality goes;
    required properties and ``additionalProperties: false`` stay."""
    node = node_at(doc, parts(titled(doc, "Reference")))
    assert node.pop("minProperties") == 1 and node.pop("maxProperties") == 1


def _holder_credential_union(doc: Json) -> None:
    """``HolderCredential`` is a ``oneOf`` of Vehicle-, Customer- and OtherCredential, three
    schemas that are each exactly ``CredentialAssigned``: whatever matches one matches all three,
    so ``oneOf`` refuses every credential (and with it every Session, which needs one). The three
    differ in meaning only: ``anyOf``."""
    rename(doc, titled(doc, "HolderCredential"), "oneOf", "anyOf")


def _named_area_required(doc: Json) -> None:
    """``AreaLocation`` is a ``oneOf`` of ``{namedArea}`` and a GeoJSON MultiPolygon, but the first
    branch requires nothing, so a MultiPolygon matches both and is refused. The first branch is
    the named-area form: it requires its ``namedArea``."""
    constrain(doc, titled(doc, "AreaLocation") + "/oneOf/0", {"required": ["namedArea"]})


def _contact_base_exclusive(doc: Json) -> None:
    """A hierarchy element's ``contacts`` are a ``oneOf`` of Contact, ContactPoint and
    ContactByReference, where Contact is the all-optional base of the other two (they are
    ``allOf`` it): every ContactPoint also matches Contact and is refused. The bare-Contact branch
    is held to what makes it bare: neither ContactPoint's required ``type`` nor
    ContactByReference's ``contactReference``."""
    at = titled(doc, "Contact")
    subtypes = {"anyOf": [{"required": ["type"]}, {"required": ["contactReference"]}]}
    constrain(doc, at, {"not": subtypes})


CORRECTIONS: tuple[Callable[[Json], None], ...] = (
    _hierarchy_discriminated,
    _reference_cardinality,
    _holder_credential_union,
    _named_area_required,
    _contact_base_exclusive,
)


# --- formats and validators ------------------------------------------------------------------

_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$", re.IGNORECASE)
FORMATS = FormatChecker()


@FORMATS.checks("date-time", raises=ValueError)
def _date_time(value: object) -> bool:
    if isinstance(value, str):
        if not _RFC3339.match(value):
            raise ValueError(f"not an RFC 3339 date-time with offset: {value!r}")
        datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    return True


@FORMATS.checks("date", raises=ValueError)
def _date(value: object) -> bool:
    if isinstance(value, str):
        date.fromisoformat(value)
    return True


@FORMATS.checks("url", raises=ValueError)
def _url(value: object) -> bool:
    if isinstance(value, str):
        split = urlsplit(value)
        if split.scheme not in {"http", "https"} or not split.netloc:
            raise ValueError(f"not an absolute http(s) URL: {value!r}")
    return True


@functools.cache
def _registry(corrected: bool) -> Registry[Json]:
    doc = resolved(load())  # first: the corrections move references, which must be canonical
    if corrected:
        for correction in CORRECTIONS:
            correction(doc)
    return Registry().with_resource(URI, Resource(contents=doc, specification=DRAFT4))


def validator_for(at: str, *, corrected: bool = True) -> Draft4Validator:
    """A validator of the schema at pointer ``at`` of the (corrected) description."""
    return Draft4Validator({"$ref": URI + at}, registry=_registry(corrected), format_checker=FORMATS)


def response_schema(path: str, method: str = "get", status: str = "200") -> str:
    return pointer(["paths", path, method, "responses", status, "content", "application/json", "schema"])


def errors(at: str, body: Json, *, corrected: bool = True) -> list[str]:
    found = []
    for error in validator_for(at, corrected=corrected).iter_errors(body):
        where = "/".join(map(str, error.absolute_path)) or "(root)"
        found.append(f"{where}: {error.message[:300]}")
        found.extend(
            f"    {'/'.join(map(str, c.absolute_path))}: {c.message[:200]}" for c in error.context or []
        )
    return found


def validate(path: str, body: Json) -> None:
    """``body`` is a valid response of APDS ``GET path``; else an ``AssertionError`` lists why."""
    problems = errors(response_schema(path), body)
    assert not problems, f"not a valid APDS GET {path} response:\n" + "\n".join(problems)
