"""Chinese civil licence plates (GA 36-2018): one canonical form for every read of a plate.

Why this exists: an ANPR camera at the entrance, another at the exit and a driver typing into the
app write the same plate in different ways (full-width characters, lower case, spaces, middle dots
or dashes after the issuing-authority letter). Sessions, bookings and the keyed hash only match if
every one of them is folded to the same string first.

Canonical form: ``<province><authority letter><serial>[<suffix>]`` with ASCII upper-case letters and
digits, no separators.

Folding, in this order:

1. Unicode NFKC, so full-width ``Ａ１`` (and the ideographic space) become ASCII;
2. removal, anywhere in the string, of whitespace and of the separators people and cameras put
   between the parts: middle dots (``·`` U+00B7, ``・`` U+30FB, ``•``, ``∙``, ``⋅``, ``‧``),
   ``-`` and the Unicode dashes, ``.``, ``_``, ``/`` (their full-width forms fold to these under
   NFKC) and zero-width characters;
3. upper-casing of ASCII letters only, so a non-Latin letter cannot turn into a valid one
   (``"ß".upper()`` is ``"SS"``) and sneak past validation.

Accepted shapes after folding (everything else raises ``Invalid`` with code ``invalid_plate``):

- ordinary, 7 characters: province abbreviation + authority letter A-Z + 5 serial characters
  from digits and letters except I and O (the standard leaves those out because they read as 1
  and 0), e.g. ``沪A12345``;
- special use, 7 characters: province + letter + 4 serial characters + one of
  学 (driving school) 警 (police) 挂 (trailer) 港 澳 (Hong Kong / Macau cross-border)
  领 (consulate) 试 (test vehicle) 超 (oversize), e.g. ``粤Z1234港``;
- new energy, small vehicles, 8 characters: province + letter + energy letter + a letter or digit +
  4 digits, e.g. ``沪AD12345``, ``沪AFA1234``. The energy letter was D (pure electric) or F
  (non-pure electric); the series issued since 2021 also use A-K except I, accepted here in the
  same position with the same "letter-or-digit then 4 digits" rest;
- new energy, large vehicles, 8 characters: province + letter + 5 digits + D or F, e.g.
  ``沪A12345D``.

Deliberately out of scope: embassy plates (``使``), military, armed-police and the pre-2007 black
plates; none of them parks through this service's public flows, and accepting a shape we cannot
check invites garbage reads. The standard's finer limits on how many letters a serial may hold are
not enforced either: they changed over time and an over-strict check would lock out real cars.

Misreads are never "corrected" (O to 0, I to 1 and so on): a wrong guess would attach a stay and
its fee to someone else's car, while a rejected read is visible and can be handled by an operator.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata

from core.errors import Invalid

PROVINCES: frozenset[str] = frozenset("京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼")
SUFFIXES: frozenset[str] = frozenset("学警挂港澳领试超")

_SEPARATORS = re.compile(
    r"[\s"
    "\u00b7\u30fb\uff65\u2022\u2027\u2219\u22c5\u2e31"  # middle dots and bullets
    "\\-\u2010-\u2015\u2212\ufe63\uff0d"  # hyphen, Unicode dashes, minus
    ".\uff0e\u3002_\uff3f/\uff0f"  # full stop, ideographic full stop, underscore, slash
    "\u200b-\u200d\u2060\ufeff"  # zero-width characters
    "]+"
)
_LOWER_ASCII = str.maketrans("abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ")

_P = "[" + "".join(sorted(PROVINCES)) + "]"
_AUTHORITY = "[A-Z]"
_SERIAL = "[A-HJ-NP-Z0-9]"  # digits and letters except I and O
_ENERGY_SMALL = "[A-HJK]"  # D, F, and the 2021+ letters A-K except I
_ORDINARY = re.compile(rf"{_P}{_AUTHORITY}{_SERIAL}{{5}}")
_SPECIAL = re.compile(rf"{_P}{_AUTHORITY}{_SERIAL}{{4}}[{''.join(sorted(SUFFIXES))}]")
_NEV_SMALL = re.compile(rf"{_P}{_AUTHORITY}{_ENERGY_SMALL}{_SERIAL}[0-9]{{4}}")
_NEV_LARGE = re.compile(rf"{_P}{_AUTHORITY}[0-9]{{5}}[DF]")
_SHAPES = (_ORDINARY, _SPECIAL, _NEV_SMALL, _NEV_LARGE)

_ECHO_LIMIT = 40
_EXPECTED = (
    "expected province, letter, 5 alphanumerics (no I or O), a special-use plate such as 粤Z1234港, "
    "or an 8-character new-energy plate"
)


def _fold(raw: str) -> str:
    """Erase the differences between two writings of one plate, without judging validity."""
    return _SEPARATORS.sub("", unicodedata.normalize("NFKC", raw)).translate(_LOWER_ASCII)


def _echo(raw: str) -> str:
    """Quote the caller's own input back, but never a megabyte of it into a response or log."""
    shown = raw if len(raw) <= _ECHO_LIMIT else raw[:_ECHO_LIMIT] + "…"
    return repr(shown)


def normalize_plate(raw: str) -> str:
    """Fold ``raw`` to the canonical plate, so every read of one car compares equal.

    The error may quote ``raw``: it came from the caller, so showing it back discloses nothing new,
    and the caller needs to see what was rejected.
    """
    if not isinstance(raw, str):  # defends untyped callers (JSON payloads built by hand)
        raise Invalid("plate must be a string", code="invalid_plate")
    plate = _fold(raw)
    if any(shape.fullmatch(plate) for shape in _SHAPES):
        return plate
    if "使" in plate:
        raise Invalid(f"embassy plates are not supported: {_echo(raw)} ({_EXPECTED})", code="invalid_plate")
    raise Invalid(f"not a Chinese civil plate: {_echo(raw)} ({_EXPECTED})", code="invalid_plate")


def is_new_energy(plate: str) -> bool:
    """Tell green (new-energy) plates apart, since local rules such as charging bays key on them.

    Takes an already normalised plate and answers False for anything else rather than raising,
    so it can be used as a plain predicate on stored values.
    """
    return any(shape.fullmatch(plate) for shape in (_NEV_SMALL, _NEV_LARGE))


def plate_hash(plate: str, key: bytes) -> str:
    """Stand in for the plate wherever it must not appear in clear (aggregates, logs, retention).

    The plate space is small enough to enumerate, so a plain digest would be reversible; the HMAC
    key is what makes the hash unlinkable for anyone without it. The input is normalised first so
    two writings of one plate hash the same.
    """
    if not key:
        raise ValueError("plate_hash needs a non-empty key: an unkeyed hash of a plate is reversible")
    return hmac.new(key, normalize_plate(plate).encode("utf-8"), hashlib.sha256).hexdigest()


def mask_plate(plate: str) -> str:
    """Keep enough of a plate for an operator to recognise a car in logs and UI, not to identify it.

    Province and authority letter (the region) and the last two characters survive; the rest is
    starred, keeping the length so new-energy plates still look longer. Inputs of four characters
    or fewer are starred entirely, since the kept parts would then be most of the plate.
    """
    if len(plate) <= 4:
        return "*" * len(plate)
    return plate[:2] + "*" * (len(plate) - 4) + plate[-2:]
