"""Plate canonical form: the entry read, the exit read and the driver's registration must agree."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.errors import Invalid
from parking.identity.plates import PROVINCES, is_new_energy, mask_plate, normalize_plate, plate_hash


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("沪A12345", "沪A12345"),
        ("沪Ａ１２３４５", "沪A12345"),  # full-width letter and digits
        ("沪a·12345", "沪A12345"),  # lower case, U+00B7 middle dot
        (" 沪 A-123 45 ", "沪A12345"),  # surrounding and inner spaces, dash
        ("沪A・12345", "沪A12345"),  # U+30FB katakana middle dot
        ("沪A•12345", "沪A12345"),  # bullet
        ("沪A．12345", "沪A12345"),  # full-width full stop
        ("沪A_12345", "沪A12345"),
        ("沪A／12345", "沪A12345"),  # full-width slash
        ("沪A\u300012345", "沪A12345"),  # ideographic space
        ("\t沪A12345\n", "沪A12345"),
        ("沪A\u200b12345", "沪A12345"),  # zero-width space from copy-paste
        ("京BX9Z7Y", "京BX9Z7Y"),  # letters in the serial (not I or O)
        ("沪AD12345", "沪AD12345"),  # new-energy small, electric
        ("沪AF12345", "沪AF12345"),  # new-energy small, hybrid
        ("沪ADA1234", "沪ADA1234"),  # new-energy small, letter in the 2nd serial place
        ("沪afa1234", "沪AFA1234"),
        ("沪AA12345", "沪AA12345"),  # 2021+ series energy letter
        ("沪AK12345", "沪AK12345"),
        ("沪A12345D", "沪A12345D"),  # new-energy large, electric
        ("沪A12345F", "沪A12345F"),  # new-energy large, hybrid
        ("粤Z1234港", "粤Z1234港"),  # Hong Kong cross-border
        ("粤Z·1234澳", "粤Z1234澳"),  # Macau cross-border
        ("沪A1234学", "沪A1234学"),  # driving school
        ("沪A0123警", "沪A0123警"),  # police
        ("沪A1234挂", "沪A1234挂"),  # trailer
        ("沪A1234领", "沪A1234领"),  # consulate
        ("沪A1234试", "沪A1234试"),
        ("沪A1234超", "沪A1234超"),
    ],
)
def test_normalise(raw: str, canonical: str) -> None:
    assert normalize_plate(raw) == canonical


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "·-.",
        "ABC123",
        "XYZ",
        "沪12345",  # missing authority letter
        "沪AI2345",  # I in the serial
        "沪AO2345",  # O in the serial: not guessed to be 0
        "沪A1234",  # too short
        "沪A123456",  # 6 characters of serial but not a new-energy shape
        "沪A1234567",  # too long
        "沪AD123456",  # too long for new energy
        "中A12345",  # not a province abbreviation
        "A沪12345",  # province not first
        "沪112345",  # authority must be a letter
        "沪AF1A234",  # small new energy: after the 2nd place only digits
        "沪AI12345",  # I is not an energy letter
        "沪AL12345",  # L is beyond the A-K energy letters
        "沪A1234D5",  # large new energy: energy letter must be last
        "沪A12345A",  # large new energy: only D or F
        "沪A12345学",  # suffix takes the place of the 5th serial character
        "沪A123港",  # suffix with a serial too short
        "沪A1234使",  # embassy plates are out of scope
        "使123456",
        "沪Aß345",  # "ß".upper() == "SS" must not make this an ordinary plate
        "沪A１２３４５６７８",
        "沪A12345\x00",
    ],
)
def test_rejects(raw: str) -> None:
    with pytest.raises(Invalid) as err:
        normalize_plate(raw)
    assert err.value.code == "invalid_plate"


def test_rejection_message_echoes_the_input_and_says_what_is_expected() -> None:
    with pytest.raises(Invalid, match=r"not a Chinese civil plate: '沪AI2345'") as err:
        normalize_plate("沪AI2345")
    assert "new-energy" in err.value.detail
    with pytest.raises(Invalid, match="embassy"):
        normalize_plate("使123456")


def test_rejection_message_does_not_echo_a_huge_input() -> None:
    with pytest.raises(Invalid) as err:
        normalize_plate("沪" * 10_000)
    assert len(err.value.detail) < 400


def test_non_string_is_invalid_not_a_crash() -> None:
    with pytest.raises(Invalid):
        normalize_plate(12345)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("plate", "expected"),
    [
        ("沪AD12345", True),
        ("沪AFA1234", True),
        ("沪AA12345", True),
        ("沪A12345D", True),
        ("沪A12345F", True),
        ("沪A12345", False),
        ("沪AD1234", False),  # 7 characters: an ordinary plate with D in the serial
        ("粤Z1234港", False),
        ("沪ad12345", False),  # not normalised: answered, not raised
        ("", False),
    ],
)
def test_is_new_energy(plate: str, expected: bool) -> None:
    assert is_new_energy(plate) is expected


def test_plate_hash() -> None:
    h1 = plate_hash("沪A12345", b"k1")
    assert h1 == plate_hash("沪A12345", b"k1")  # stable
    assert h1 != plate_hash("沪A12345", b"k2")  # keyed
    assert h1 != plate_hash("沪A12346", b"k1")
    assert h1 == plate_hash("沪a·12345", b"k1") == plate_hash(" 沪Ａ-１２３４５ ", b"k1")
    assert re.fullmatch(r"[0-9a-f]{64}", h1)
    assert "12345" not in h1


def test_plate_hash_refuses_invalid_plates_and_empty_keys() -> None:
    with pytest.raises(Invalid):
        plate_hash("沪AI2345", b"k1")
    with pytest.raises(ValueError, match="key"):
        plate_hash("沪A12345", b"")


@pytest.mark.parametrize(
    ("plate", "masked"),
    [
        ("沪A12345", "沪A***45"),
        ("沪AD12345", "沪A****45"),
        ("沪A12345D", "沪A****5D"),
        ("粤Z1234港", "粤Z***4港"),
        ("沪A12", "****"),
        ("", ""),
    ],
)
def test_mask_plate(plate: str, masked: str) -> None:
    assert mask_plate(plate) == masked


# Valid plates generated from the grammar in the module docstring.
SERIAL = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"
DIGITS = "0123456789"
provinces = st.sampled_from(sorted(PROVINCES))
letters = st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZ")


def chars(alphabet: str, n: int) -> st.SearchStrategy[str]:
    return st.text(alphabet=alphabet, min_size=n, max_size=n)


ordinary = st.tuples(provinces, letters, chars(SERIAL, 5)).map("".join)
special = st.tuples(provinces, letters, chars(SERIAL, 4), st.sampled_from("学警挂港澳领试超")).map("".join)
nev_small = st.tuples(
    provinces, letters, st.sampled_from("ABCDEFGHJK"), chars(SERIAL, 1), chars(DIGITS, 4)
).map("".join)
nev_large = st.tuples(provinces, letters, chars(DIGITS, 5), st.sampled_from("DF")).map("".join)
valid_plates = st.one_of(ordinary, special, nev_small, nev_large)
separators = st.sampled_from(
    [" ", "  ", "\t", "\u3000", "·", "•", "・", "\u00b7", "\u30fb", "-", ".", "．", "_", "／", "\u200b"]
)


def full_width(c: str) -> str:
    return chr(ord(c) + 0xFEE0) if c.isascii() and c.isalnum() else c


@given(valid_plates)
def test_canonical_plates_are_fixed_points(plate: str) -> None:
    assert normalize_plate(plate) == plate
    assert normalize_plate(normalize_plate(plate)) == normalize_plate(plate)
    assert is_new_energy(plate) is (len(plate) == 8)


@given(valid_plates, st.data())
def test_noise_does_not_change_the_canonical_form(plate: str, data: st.DataObject) -> None:
    messy = ""
    for c in plate:
        messy += data.draw(st.lists(separators, max_size=2).map("".join))
        if data.draw(st.booleans()):
            c = c.lower()
        if data.draw(st.booleans()):
            c = full_width(c)
        messy += c
    messy += data.draw(st.lists(separators, max_size=2).map("".join))
    assert normalize_plate(messy) == plate
    assert normalize_plate(normalize_plate(messy)) == normalize_plate(messy)
    assert plate_hash(messy, b"k") == plate_hash(plate, b"k")
