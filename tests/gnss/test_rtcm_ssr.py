"""SSR decoding cross-checked field by field against pyrtcm.

Two sources of messages: the real GPS 1059 (code biases) and 1060 (orbit + clock) of the
captures, and, for all 36 SSR types (no capture here holds the other ones), payloads of random
bits with the message type set - pyrtcm reads them with its own field table, we read them with
ours, and every field must agree. Random bits exercise every width, sign and count (0-63
satellites, 0-31 biases each), which is what a layout error would show up on.

pyrtcm returns the broadcast units (mm, mm/s, mm/s^2, m for biases) and scales the SBAS t0 and
BeiDou toe moduli to seconds; we return SI units.
"""

from __future__ import annotations

import io
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pyrtcm import RTCMMessage, RTCMParseError, RTCMReader, RTCMTypeError

from gnss.rtcm import SsrCorrections, decode
from gnss.rtcm.ssr import SSR_TYPES, UPDATE_INTERVAL_S

DATA = Path(__file__).parents[1] / "data" / "gnss" / "rtcm3"

EPOCH_DF = {"G": "DF385", "R": "DF386", "E": "DF458", "J": "DF460", "S": "DF462", "C": "DF465"}
SAT_DF = {"G": "DF068", "R": "DF384", "E": "DF252", "J": "DF429", "S": "DF463", "C": "DF488"}
IOD_DF = {"G": "DF071", "R": "DF392", "E": "DF459", "J": "DF434", "S": "DF469", "C": "DF471"}
TOE_MOD_DF = {"S": "DF468", "C": "DF470"}
SIGNAL_DF = {"G": "DF380", "R": "DF381", "E": "DF382", "J": "DF461", "S": "DF464", "C": "DF467"}


def close(ours: float, theirs: float) -> bool:
    return abs(ours - theirs) <= 1e-9 * max(1.0, abs(theirs))


def check_ssr(ssr: SsrCorrections, msg: Any) -> int:
    """Every field of ``ssr`` against pyrtcm's ``msg``; returns the number of satellites."""
    mt = int(msg.identity)
    system, kind = SSR_TYPES[mt]
    assert (ssr.msg_type, ssr.system, ssr.kind) == (mt, system, kind)
    assert ssr.epoch_s == getattr(msg, EPOCH_DF[system])
    assert ssr.update_interval == msg.DF391 and 0 <= ssr.update_interval < len(UPDATE_INTERVAL_S)
    assert ssr.multiple_message == bool(msg.DF388)
    orbit, clock = kind in ("orbit", "orbit_clock"), kind in ("clock", "orbit_clock")
    assert ssr.reference_datum == (msg.DF375 if orbit else None)
    assert (ssr.iod_ssr, ssr.provider_id, ssr.solution_id) == (msg.DF413, msg.DF414, msg.DF415)
    n = msg.DF387
    assert ssr.sat_id.shape == (n,)
    biases = 0
    for i in range(n):

        def g(df: str, i: int = i) -> Any:
            return getattr(msg, f"{df}_{i + 1:02d}")

        assert ssr.sat_id[i] == g(SAT_DF[system])
        if orbit:
            assert ssr.iode is not None and ssr.toe_mod_s is not None
            assert ssr.orbit_m is not None and ssr.orbit_rate_mps is not None
            assert ssr.iode[i] == g(IOD_DF[system])
            if system in TOE_MOD_DF:
                assert ssr.toe_mod_s[i] == g(TOE_MOD_DF[system])
            else:
                assert np.isnan(ssr.toe_mod_s[i])
            for k, df in enumerate(("DF365", "DF366", "DF367")):
                assert close(ssr.orbit_m[i, k] * 1e3, g(df)), (mt, df)
            for k, df in enumerate(("DF368", "DF369", "DF370")):
                assert close(ssr.orbit_rate_mps[i, k] * 1e3, g(df)), (mt, df)
        else:
            assert ssr.iode is None and ssr.orbit_m is None and ssr.orbit_rate_mps is None
        if clock:
            assert ssr.clock_c0_m is not None and ssr.clock_c1_mps is not None
            assert ssr.clock_c2_mps2 is not None
            assert close(ssr.clock_c0_m[i] * 1e3, g("DF376"))
            assert close(ssr.clock_c1_mps[i] * 1e3, g("DF377"))
            assert close(ssr.clock_c2_mps2[i] * 1e3, g("DF378"))
        else:
            assert ssr.clock_c0_m is None
        if kind == "ura":
            assert ssr.ura is not None and ssr.ura[i] == g("DF389")
        if kind == "hr_clock":
            assert ssr.hr_clock_m is not None and close(ssr.hr_clock_m[i] * 1e3, g("DF390"))
        if kind == "code_bias":
            assert ssr.bias_sat is not None and ssr.bias_signal is not None and ssr.bias_m is not None
            mine = np.flatnonzero(ssr.bias_sat == i)
            assert len(mine) == g("DF379")
            for k, j in enumerate(mine):
                assert ssr.bias_signal[j] == getattr(msg, f"{SIGNAL_DF[system]}_{i + 1:02d}_{k + 1:02d}")
                assert close(ssr.bias_m[j], getattr(msg, f"DF383_{i + 1:02d}_{k + 1:02d}"))
            biases += len(mine)
        else:
            assert ssr.bias_m is None
    if kind == "code_bias":
        assert ssr.bias_m is not None and len(ssr.bias_m) == biases
    return n


def real_ssr() -> list[tuple[bytes, Any]]:
    out = []
    for path in sorted(DATA.iterdir()):
        if path.suffix in {".log", ".rtcm", ".rtcm3"}:
            for raw, msg in RTCMReader(io.BytesIO(path.read_bytes()), quitonerror=0):
                if msg is not None and int(msg.identity) in SSR_TYPES:
                    out.append((raw, msg))
    return out


def test_the_real_ssr_messages_match_pyrtcm() -> None:
    found = real_ssr()
    assert sorted(int(m.identity) for _, m in found) == [1059, 1060]
    for raw, msg in found:
        ssr = decode(raw[3:-3])
        assert isinstance(ssr, SsrCorrections)
        assert check_ssr(ssr, msg) > 10
    bias = decode(next(r for r, m in found if m.identity == "1059")[3:-3])
    assert isinstance(bias, SsrCorrections) and bias.bias_m is not None and bias.bias_signal is not None
    assert set(bias.bias_signal) == {0, 10}  # L1 C/A and L2 P(Y): what a GPS code-bias stream sends
    assert np.all(np.abs(bias.bias_m) < 10)
    orbit = decode(next(r for r, m in found if m.identity == "1060")[3:-3])
    assert isinstance(orbit, SsrCorrections) and orbit.orbit_m is not None and orbit.clock_c0_m is not None
    assert np.all(np.abs(orbit.orbit_m) < 10) and np.all(np.abs(orbit.clock_c0_m) < 10)


def random_payload(rng: random.Random, msg_type: int, size: int) -> bytes:
    body = bytearray(rng.randbytes(size))
    body[0] = msg_type >> 4
    body[1] = ((msg_type & 0xF) << 4) | (body[1] & 0xF)
    return bytes(body)


@pytest.mark.parametrize("msg_type", sorted(SSR_TYPES))
def test_every_ssr_type_matches_pyrtcm_on_random_bits(msg_type: int) -> None:
    rng = random.Random(msg_type)
    sats = 0
    for _ in range(12):
        # 5 kB holds the largest message random counts can ask for (63 satellites x 31 biases)
        payload = random_payload(rng, msg_type, 5000)
        msg = RTCMMessage(payload=payload)
        ssr = decode(payload)
        assert isinstance(ssr, SsrCorrections)
        sats += check_ssr(ssr, msg)
        # cut one byte short of what the message needs: pyrtcm refuses it, we return None
        need = (msg._offset + 7) // 8
        if need > 2:
            with pytest.raises((RTCMTypeError, RTCMParseError)):
                RTCMMessage(payload=payload[: need - 1])
            assert decode(payload[: need - 1]) is None
    assert sats > 100


def test_ssr_types_are_the_six_kinds_of_six_systems() -> None:
    assert len(SSR_TYPES) == 36
    assert SSR_TYPES[1059] == ("G", "code_bias") and SSR_TYPES[1060] == ("G", "orbit_clock")
    assert SSR_TYPES[1068] == ("R", "hr_clock") and SSR_TYPES[1240] == ("E", "orbit")
    assert SSR_TYPES[1258] == ("C", "orbit") and SSR_TYPES[1263] == ("C", "hr_clock")
