"""Chinese civil licence plates (GA 36-2018): one canonical form for every read of a plate.

Cameras and people write the same plate many ways: full-width characters, lower case, spaces,
middle dots and dashes between the issuing-authority letter and the serial. We fold all of them
to ``<province><letter><serial>`` so an entry read, an exit read and a driver's registration
match. Accepted shapes:

- ordinary: province + authority letter + 5 serial characters (digits and letters except I, O);
- special-use suffix: province + letter + 4 serial characters + one of 学 警 挂 港 澳 领 试 超;
- new-energy (8 characters): small vehicles put the energy letter first (D electric, F hybrid;
  later series also use A-K except I) followed by a letter-or-digit and 4 digits; large vehicles
  put 5 digits first and the energy letter last.

Misreads are not "corrected" (O for 0 and so on): a wrong guess would attach a stay to someone
else's car; a rejected read is at least visible.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata

from core.errors import Invalid

PROVINCES = frozenset("京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼")
SUFFIXES = "学警挂港澳领试超"
_SEPARATORS = re.compile(r"[\s·•・\-._．／/\u00b7\u30fb\u2022\u2027\u2219]+")
_P = "[" + "".join(sorted(PROVINCES)) + "]"
_SERIAL = "[A-HJ-NP-Z0-9]"
_ORDINARY = re.compile(rf"^{_P}[A-Z]{_SERIAL}{{5}}$")
_SPECIAL = re.compile(rf"^{_P}[A-Z]{_SERIAL}{{4}}[{SUFFIXES}]$")
_NEV_SMALL = re.compile(rf"^{_P}[A-Z][A-HJ-K][A-HJ-NP-Z0-9][0-9]{{4}}$")
_NEV_LARGE = re.compile(rf"^{_P}[A-Z][0-9]{{5}}[DF]$")


def _fold(raw: str) -> str:
    return _SEPARATORS.sub("", unicodedata.normalize("NFKC", raw)).upper()


def normalize_plate(raw: str) -> str:
    if not isinstance(raw, str):
        raise Invalid("plate must be a string", code="invalid_plate")
    plate = _fold(raw)
    if any(p.match(plate) for p in (_ORDINARY, _SPECIAL, _NEV_SMALL, _NEV_LARGE)):
        return plate
    raise Invalid(
        f"not a Chinese civil plate: {raw!r} (expected province, letter and 5 alphanumerics, "
        "or an 8-character new-energy plate)",
        code="invalid_plate",
    )


def is_new_energy(plate: str) -> bool:
    return len(plate) == 8 and bool(_NEV_SMALL.match(plate) or _NEV_LARGE.match(plate))


def plate_hash(plate: str, key: bytes) -> str:
    return hmac.new(key, normalize_plate(plate).encode(), hashlib.sha256).hexdigest()


def mask_plate(plate: str) -> str:
    if len(plate) <= 4:
        return "*" * len(plate)
    return plate[:2] + "*" * (len(plate) - 4) + plate[-2:]
