"""Plate normalisation (GA 36-2018 shapes) and off-peak sharing windows."""

from __future__ import annotations

from datetime import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.errors import Invalid
from parking.plates import is_new_energy, mask_plate, normalize_plate, plate_hash
from parking.shared import covers, open_at, openings


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("沪A12345", "沪A12345"),
        ("沪Ａ１２３４５", "沪A12345"),  # full-width
        ("沪a·12345", "沪A12345"),  # lower case, middle dot
        (" 沪 A-123 45 ", "沪A12345"),  # spaces and dash
        ("沪AD12345", "沪AD12345"),  # new-energy small (electric)
        ("沪AFA1234", "沪AFA1234"),  # new-energy small (hybrid), letter in 2nd serial place
        ("沪A12345D", "沪A12345D"),  # new-energy large
        ("粤Z1234港", "粤Z1234港"),  # Hong Kong cross-border
        ("沪A1234学", "沪A1234学"),  # driving school
    ],
)
def test_normalise(raw: str, canonical: str) -> None:
    assert normalize_plate(raw) == canonical


@pytest.mark.parametrize(
    "raw", ["", "ABC123", "沪12345", "沪AI2345", "沪A1234", "XYZ", "中A12345", "沪A1234567", "沪AO2345"]
)
def test_rejects(raw: str) -> None:
    with pytest.raises(Invalid) as err:
        normalize_plate(raw)
    assert err.value.code == "invalid_plate"


def test_new_energy_and_masking_and_hash() -> None:
    assert is_new_energy("沪AD12345") and is_new_energy("沪A12345D")
    assert not is_new_energy("沪A12345")
    assert mask_plate("沪A12345") == "沪A***45"
    h1 = plate_hash("沪A12345", b"k1")
    assert h1 == plate_hash("沪a·12345", b"k1")
    assert h1 != plate_hash("沪A12345", b"k2")
    assert len(h1) == 64 and "12345" not in h1


serials = st.text(alphabet="ABCDEFGHJKLMNPQRSTUVWXYZ0123456789", min_size=5, max_size=5)
plates = st.builds(
    lambda p, letter, s: p + letter + s, st.sampled_from("京沪粤川"), st.sampled_from("ABCZ"), serials
)


@given(plates, st.lists(st.sampled_from([" ", "·", "-", "."]), max_size=3), st.booleans())
def test_normalise_is_idempotent_and_ignores_noise(plate: str, noise: list[str], full_width: bool) -> None:
    messy = plate[:2] + "".join(noise) + plate[2:]
    if full_width:
        messy = "".join(chr(ord(c) + 0xFEE0) if c.isascii() and c.isalnum() else c for c in messy)
    assert normalize_plate(messy) == plate
    assert normalize_plate(normalize_plate(messy)) == normalize_plate(messy)


def sh(text: str) -> datetime:
    return datetime.fromisoformat(text + "+08:00")


# 2026-03-02 is a Monday (weekday 0)
WEEKDAYS = {"days": [0, 1, 2, 3, 4], "start": "08:30", "end": "17:30"}
WEEKEND_NIGHTS = {"days": [5, 6], "start": "20:00", "end": "08:00"}


def test_shared_windows() -> None:
    windows = [WEEKDAYS, WEEKEND_NIGHTS]
    assert covers(windows, sh("2026-03-02T09:00"), sh("2026-03-02T17:30"))
    assert not covers(windows, sh("2026-03-02T08:00"), sh("2026-03-02T09:00"))
    # Saturday 22:00 -> Sunday 07:00 lies in the overnight window that starts on Saturday
    assert covers(windows, sh("2026-03-07T22:00"), sh("2026-03-08T07:00"))
    # Sunday 20:00 -> Monday 08:00 continues into Monday morning (window of Sunday), but not to 09:00
    assert covers(windows, sh("2026-03-08T21:00"), sh("2026-03-09T08:00"))
    assert not covers(windows, sh("2026-03-08T21:00"), sh("2026-03-09T09:00"))
    assert open_at(windows, sh("2026-03-03T12:00")) and not open_at(windows, sh("2026-03-03T18:00"))


def test_touching_windows_join() -> None:
    evening = {"days": [0], "start": "19:00", "end": "24:00"}
    morning = {"days": [1], "start": "00:00", "end": "07:00"}
    assert covers([evening, morning], sh("2026-03-02T22:00"), sh("2026-03-03T02:00"))
    spans = openings([evening, morning], sh("2026-03-02T20:00"), sh("2026-03-03T01:00"))
    assert spans == [(sh("2026-03-02T19:00"), sh("2026-03-03T07:00"))]
