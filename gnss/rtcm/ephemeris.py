"""Broadcast ephemerides: RTCM 1019 (GPS), 1020 (GLONASS), 1041 (NavIC/IRNSS), 1042 (BeiDou),
1044 (QZSS), 1045/1046 (Galileo).

Every message is a fixed sequence of fields, so each is described once as a table of
(name, width, encoding, scale) taken from RTCM 10403.3 (DF071-DF137, DF252-DF317, DF429-DF457,
DF488-DF515, DF516-DF545) and cross-checked against RTKLIB ``rtcm3.c``; one loop reads any of them. Scales
include the unit conversion to SI: angles broadcast in semicircles (and their rates) are
multiplied by pi here, so the orbit code downstream only ever sees radians, metres and seconds.
GLONASS positions/velocities/accelerations are broadcast in km and converted to metres.

Weeks are returned as broadcast (GPS/QZSS modulo 1024, Galileo GST week, BeiDou BDT week):
resolving the rollover needs a clock this module does not have.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

import numpy as np
from numpy.typing import NDArray

from gnss.rtcm.bits import BitReader

__all__ = ["EPHEMERIS_TYPES", "GlonassEphemeris", "KeplerEphemeris", "decode_ephemeris"]

_PI: Final = math.pi
# (name, width, encoding, scale): encoding 'u' unsigned, 's' two's complement, 'm' sign-magnitude;
# scale None keeps the integer.
_Spec = tuple[tuple[str, int, str, float | None], ...]

_SC = _PI * 2.0**-31  # semicircles (2^-31) -> rad
_SCR = _PI * 2.0**-43  # semicircles/s (2^-43) -> rad/s

_GPS: Final[_Spec] = (
    ("prn", 6, "u", None),
    ("week", 10, "u", None),
    ("accuracy_index", 4, "u", None),
    ("l2_codes", 2, "u", None),
    ("idot_radps", 14, "s", _SCR),
    ("iode", 8, "u", None),
    ("toc_s", 16, "u", 16.0),
    ("af2_sps2", 8, "s", 2.0**-55),
    ("af1_sps", 16, "s", 2.0**-43),
    ("af0_s", 22, "s", 2.0**-31),
    ("iodc", 10, "u", None),
    ("crs_m", 16, "s", 2.0**-5),
    ("delta_n_radps", 16, "s", _SCR),
    ("m0_rad", 32, "s", _SC),
    ("cuc_rad", 16, "s", 2.0**-29),
    ("e", 32, "u", 2.0**-33),
    ("cus_rad", 16, "s", 2.0**-29),
    ("sqrt_a", 32, "u", 2.0**-19),
    ("toe_s", 16, "u", 16.0),
    ("cic_rad", 16, "s", 2.0**-29),
    ("omega0_rad", 32, "s", _SC),
    ("cis_rad", 16, "s", 2.0**-29),
    ("i0_rad", 32, "s", _SC),
    ("crc_m", 16, "s", 2.0**-5),
    ("omega_rad", 32, "s", _SC),
    ("omega_dot_radps", 24, "s", _SCR),
    ("tgd0", 8, "s", 2.0**-31),
    ("health", 6, "u", None),
    ("l2p_flag", 1, "u", None),
    ("fit_interval", 1, "u", None),
)

_QZS: Final[_Spec] = (
    ("prn", 4, "u", None),
    ("toc_s", 16, "u", 16.0),
    ("af2_sps2", 8, "s", 2.0**-55),
    ("af1_sps", 16, "s", 2.0**-43),
    ("af0_s", 22, "s", 2.0**-31),
    ("iode", 8, "u", None),
    ("crs_m", 16, "s", 2.0**-5),
    ("delta_n_radps", 16, "s", _SCR),
    ("m0_rad", 32, "s", _SC),
    ("cuc_rad", 16, "s", 2.0**-29),
    ("e", 32, "u", 2.0**-33),
    ("cus_rad", 16, "s", 2.0**-29),
    ("sqrt_a", 32, "u", 2.0**-19),
    ("toe_s", 16, "u", 16.0),
    ("cic_rad", 16, "s", 2.0**-29),
    ("omega0_rad", 32, "s", _SC),
    ("cis_rad", 16, "s", 2.0**-29),
    ("i0_rad", 32, "s", _SC),
    ("crc_m", 16, "s", 2.0**-5),
    ("omega_rad", 32, "s", _SC),
    ("omega_dot_radps", 24, "s", _SCR),
    ("idot_radps", 14, "s", _SCR),
    ("l2_codes", 2, "u", None),
    ("week", 10, "u", None),
    ("accuracy_index", 4, "u", None),
    ("health", 6, "u", None),
    ("tgd0", 8, "s", 2.0**-31),
    ("iodc", 10, "u", None),
    ("fit_interval", 1, "u", None),
)

_BDS: Final[_Spec] = (
    ("prn", 6, "u", None),
    ("week", 13, "u", None),
    ("accuracy_index", 4, "u", None),
    ("idot_radps", 14, "s", _SCR),
    ("iode", 5, "u", None),  # AODE
    ("toc_s", 17, "u", 8.0),
    ("af2_sps2", 11, "s", 2.0**-66),
    ("af1_sps", 22, "s", 2.0**-50),
    ("af0_s", 24, "s", 2.0**-33),
    ("iodc", 5, "u", None),  # AODC
    ("crs_m", 18, "s", 2.0**-6),
    ("delta_n_radps", 16, "s", _SCR),
    ("m0_rad", 32, "s", _SC),
    ("cuc_rad", 18, "s", 2.0**-31),
    ("e", 32, "u", 2.0**-33),
    ("cus_rad", 18, "s", 2.0**-31),
    ("sqrt_a", 32, "u", 2.0**-19),
    ("toe_s", 17, "u", 8.0),
    ("cic_rad", 18, "s", 2.0**-31),
    ("omega0_rad", 32, "s", _SC),
    ("cis_rad", 18, "s", 2.0**-31),
    ("i0_rad", 32, "s", _SC),
    ("crc_m", 18, "s", 2.0**-6),
    ("omega_rad", 32, "s", _SC),
    ("omega_dot_radps", 24, "s", _SCR),
    ("tgd0", 10, "s", 1e-10),  # TGD1 (B1I), 0.1 ns
    ("tgd1", 10, "s", 1e-10),  # TGD2 (B2I), 0.1 ns
    ("health", 1, "u", None),
)

_SCR41 = _PI * 2.0**-41  # NavIC's delta-n and Omega-dot: semicircles/s at 2^-41

_IRN: Final[_Spec] = (
    ("prn", 6, "u", None),
    ("week", 10, "u", None),
    ("af0_s", 22, "s", 2.0**-31),
    ("af1_sps", 16, "s", 2.0**-43),
    ("af2_sps2", 8, "s", 2.0**-55),
    ("accuracy_index", 4, "u", None),  # URA
    ("toc_s", 16, "u", 16.0),
    ("tgd0", 8, "s", 2.0**-31),
    ("delta_n_radps", 22, "s", _SCR41),
    ("iode", 8, "u", None),  # IODEC
    ("reserved", 10, "u", None),
    ("l5_flag", 1, "u", None),
    ("s_flag", 1, "u", None),
    ("cuc_rad", 15, "s", 2.0**-28),
    ("cus_rad", 15, "s", 2.0**-28),
    ("cic_rad", 15, "s", 2.0**-28),
    ("cis_rad", 15, "s", 2.0**-28),
    ("crc_m", 15, "s", 2.0**-4),
    ("crs_m", 15, "s", 2.0**-4),
    ("idot_radps", 14, "s", _SCR),
    ("m0_rad", 32, "s", _SC),
    ("toe_s", 16, "u", 16.0),
    ("e", 32, "u", 2.0**-33),
    ("sqrt_a", 32, "u", 2.0**-19),
    ("omega0_rad", 32, "s", _SC),
    ("omega_rad", 32, "s", _SC),
    ("omega_dot_radps", 22, "s", _SCR41),
    ("i0_rad", 32, "s", _SC),
    ("spare", 4, "u", None),  # DF544 + DF545, read after i0 as RTKLIB and pyrtcm both do
)

_GAL_ORBIT: Final[_Spec] = (
    ("idot_radps", 14, "s", _SCR),
    ("toc_s", 14, "u", 60.0),
    ("af2_sps2", 6, "s", 2.0**-59),
    ("af1_sps", 21, "s", 2.0**-46),
    ("af0_s", 31, "s", 2.0**-34),
    ("crs_m", 16, "s", 2.0**-5),
    ("delta_n_radps", 16, "s", _SCR),
    ("m0_rad", 32, "s", _SC),
    ("cuc_rad", 16, "s", 2.0**-29),
    ("e", 32, "u", 2.0**-33),
    ("cus_rad", 16, "s", 2.0**-29),
    ("sqrt_a", 32, "u", 2.0**-19),
    ("toe_s", 14, "u", 60.0),
    ("cic_rad", 16, "s", 2.0**-29),
    ("omega0_rad", 32, "s", _SC),
    ("cis_rad", 16, "s", 2.0**-29),
    ("i0_rad", 32, "s", _SC),
    ("crc_m", 16, "s", 2.0**-5),
    ("omega_rad", 32, "s", _SC),
    ("omega_dot_radps", 24, "s", _SCR),
    ("tgd0", 10, "s", 2.0**-32),  # BGD E1/E5a
)
_GAL_HEAD: Final[_Spec] = (
    ("prn", 6, "u", None),
    ("week", 12, "u", None),
    ("iode", 10, "u", None),  # IODnav
    ("accuracy_index", 8, "u", None),  # SISA
)
_GAL_FNAV: Final[_Spec] = (*_GAL_HEAD, *_GAL_ORBIT, ("e5a_hs", 2, "u", None), ("e5a_dvs", 1, "u", None))
_GAL_INAV: Final[_Spec] = (
    *_GAL_HEAD,
    *_GAL_ORBIT,
    ("tgd1", 10, "s", 2.0**-32),  # BGD E5b/E1
    ("e5b_hs", 2, "u", None),
    ("e5b_dvs", 1, "u", None),
    ("e1b_hs", 2, "u", None),
    ("e1b_dvs", 1, "u", None),
)

_GLO: Final[_Spec] = (
    ("slot", 6, "u", None),
    ("channel", 5, "u", None),
    ("alm_health", 1, "u", None),
    ("alm_health_avail", 1, "u", None),
    ("p1", 2, "u", None),
    ("tk_h", 5, "u", None),
    ("tk_m", 6, "u", None),
    ("tk_30s", 1, "u", None),
    ("bn_msb", 1, "u", None),
    ("p2", 1, "u", None),
    ("tb", 7, "u", None),
    ("vx", 24, "m", 2.0**-20 * 1e3),
    ("x", 27, "m", 2.0**-11 * 1e3),
    ("ax", 5, "m", 2.0**-30 * 1e3),
    ("vy", 24, "m", 2.0**-20 * 1e3),
    ("y", 27, "m", 2.0**-11 * 1e3),
    ("ay", 5, "m", 2.0**-30 * 1e3),
    ("vz", 24, "m", 2.0**-20 * 1e3),
    ("z", 27, "m", 2.0**-11 * 1e3),
    ("az", 5, "m", 2.0**-30 * 1e3),
    ("p3", 1, "u", None),
    ("gamma_n", 11, "m", 2.0**-40),
    ("p", 2, "u", None),
    ("ln3", 1, "u", None),
    ("tau_n_s", 22, "m", 2.0**-30),
    ("dtau_n_s", 5, "m", 2.0**-30),
    ("en_days", 5, "u", None),
    ("p4", 1, "u", None),
    ("ft", 4, "u", None),
    ("nt", 11, "u", None),
    ("m", 2, "u", None),
    ("additional", 1, "u", None),
    ("na", 11, "u", None),
    ("tau_c_s", 32, "m", 2.0**-31),
    ("n4", 5, "u", None),
    ("tau_gps_s", 22, "m", 2.0**-30),
    ("ln5", 1, "u", None),
)

_KEPLER_SPECS: Final[dict[int, tuple[str, _Spec]]] = {
    1019: ("G", _GPS),
    1041: ("I", _IRN),
    1042: ("C", _BDS),
    1044: ("J", _QZS),
    1045: ("E", _GAL_FNAV),
    1046: ("E", _GAL_INAV),
}
EPHEMERIS_TYPES: Final = frozenset((*_KEPLER_SPECS, 1020))


def _read(reader: BitReader, spec: _Spec) -> dict[str, float]:
    out: dict[str, float] = {}
    for name, width, enc, scale in spec:
        raw = reader.u(width) if enc == "u" else reader.s(width) if enc == "s" else reader.sm(width)
        out[name] = raw if scale is None else raw * scale
    return out


@dataclass(frozen=True, slots=True)
class KeplerEphemeris:
    """Keplerian broadcast ephemeris (GPS, QZSS, BeiDou, Galileo, NavIC) in SI units and radians.

    ``tgd_s``: GPS/QZSS (TGD,), BeiDou (TGD1 B1I, TGD2 B2I), Galileo F/NAV (BGD E1/E5a,),
    I/NAV (BGD E1/E5a, BGD E5b/E1). ``iode``/``iodc``: BeiDou AODE/AODC, Galileo IODnav in both.
    ``accuracy_index``: URA (GPS/QZSS), URAI (BeiDou), SISA (Galileo), as broadcast.
    ``health``: GPS/QZSS 6-bit SV health, BeiDou SatH1, Galileo the RINEX layout
    (bit 0 E1-B DVS, 1-2 E1-B HS, 3 E5a DVS, 4-5 E5a HS, 6 E5b DVS, 7-8 E5b HS), NavIC the L5
    flag (bit 1) and S flag (bit 0). NavIC's ``iode``/``iodc`` are both its IODEC.
    Times of week (``toe_s``/``toc_s``) are in the system's own time scale (BDT for BeiDou).
    """

    msg_type: int
    system: str
    prn: int
    week: int
    toe_s: float
    toc_s: float
    sqrt_a: float
    e: float
    i0_rad: float
    omega0_rad: float
    omega_rad: float
    m0_rad: float
    delta_n_radps: float
    omega_dot_radps: float
    idot_radps: float
    crs_m: float
    crc_m: float
    cus_rad: float
    cuc_rad: float
    cis_rad: float
    cic_rad: float
    af0_s: float
    af1_sps: float
    af2_sps2: float
    tgd_s: tuple[float, ...]
    iode: int
    iodc: int
    accuracy_index: int
    health: int
    l2_codes: int = 0
    l2p_flag: int = 0
    fit_interval: int = 0


@dataclass(frozen=True, slots=True, eq=False)
class GlonassEphemeris:
    """GLONASS broadcast ephemeris: PZ-90 state at ``tb`` (metres, m/s, m/s^2 luni-solar acceleration).

    ``tb_s`` and ``tk_s`` are seconds of the day in Moscow time (UTC + 3 h); ``channel`` is the FDMA
    frequency channel (-7..6). ``gamma_n`` is the relative frequency bias, ``tau_n_s`` the clock
    bias (SV clock = GLONASS time - tau_n + gamma_n (t - tb)).
    """

    msg_type: int
    slot: int
    channel: int
    tb_s: float
    tk_s: float
    pos_m: NDArray[np.float64]
    vel_mps: NDArray[np.float64]
    acc_mps2: NDArray[np.float64]
    gamma_n: float
    tau_n_s: float
    dtau_n_s: float
    bn_msb: int
    alm_health: int
    alm_health_avail: int
    p1: int
    p2: int
    p3: int
    p4: int
    p: int
    ln3: int
    ln5: int
    en_days: int
    ft: int
    nt: int
    m: int
    additional: int
    na: int
    n4: int
    tau_c_s: float
    tau_gps_s: float

    @property
    def system(self) -> str:
        return "R"

    @property
    def healthy(self) -> bool:
        """Bn's MSB (the 'unhealthy' flag of string 2) is clear."""
        return self.bn_msb == 0


def _kepler(msg_type: int, payload: bytes) -> KeplerEphemeris:
    system, spec = _KEPLER_SPECS[msg_type]
    reader = BitReader(payload, 12)
    f = _read(reader, spec)
    if msg_type == 1045:
        health = (int(f["e5a_hs"]) << 4) | (int(f["e5a_dvs"]) << 3)
    elif msg_type == 1046:
        health = (
            (int(f["e5b_hs"]) << 7) | (int(f["e5b_dvs"]) << 6) | (int(f["e1b_hs"]) << 1) | int(f["e1b_dvs"])
        )
    elif msg_type == 1041:
        health = (int(f["l5_flag"]) << 1) | int(f["s_flag"])
    else:
        health = int(f["health"])
    tgd = (f["tgd0"], f["tgd1"]) if "tgd1" in f else (f["tgd0"],)
    return KeplerEphemeris(
        msg_type=msg_type,
        system=system,
        prn=int(f["prn"]),
        week=int(f["week"]),
        toe_s=f["toe_s"],
        toc_s=f["toc_s"],
        sqrt_a=f["sqrt_a"],
        e=f["e"],
        i0_rad=f["i0_rad"],
        omega0_rad=f["omega0_rad"],
        omega_rad=f["omega_rad"],
        m0_rad=f["m0_rad"],
        delta_n_radps=f["delta_n_radps"],
        omega_dot_radps=f["omega_dot_radps"],
        idot_radps=f["idot_radps"],
        crs_m=f["crs_m"],
        crc_m=f["crc_m"],
        cus_rad=f["cus_rad"],
        cuc_rad=f["cuc_rad"],
        cis_rad=f["cis_rad"],
        cic_rad=f["cic_rad"],
        af0_s=f["af0_s"],
        af1_sps=f["af1_sps"],
        af2_sps2=f["af2_sps2"],
        tgd_s=tgd,
        iode=int(f["iode"]),
        iodc=int(f.get("iodc", f["iode"])),
        accuracy_index=int(f["accuracy_index"]),
        health=health,
        l2_codes=int(f.get("l2_codes", 0)),
        l2p_flag=int(f.get("l2p_flag", 0)),
        fit_interval=int(f.get("fit_interval", 0)),
    )


def _glonass(payload: bytes) -> GlonassEphemeris:
    f = _read(BitReader(payload, 12), _GLO)
    i = {k: int(v) for k, v in f.items()}
    return GlonassEphemeris(
        msg_type=1020,
        slot=i["slot"],
        channel=i["channel"] - 7,
        tb_s=f["tb"] * 900.0,
        tk_s=i["tk_h"] * 3600.0 + i["tk_m"] * 60.0 + i["tk_30s"] * 30.0,
        pos_m=np.array([f["x"], f["y"], f["z"]]),
        vel_mps=np.array([f["vx"], f["vy"], f["vz"]]),
        acc_mps2=np.array([f["ax"], f["ay"], f["az"]]),
        gamma_n=f["gamma_n"],
        tau_n_s=f["tau_n_s"],
        dtau_n_s=f["dtau_n_s"],
        bn_msb=i["bn_msb"],
        alm_health=i["alm_health"],
        alm_health_avail=i["alm_health_avail"],
        p1=i["p1"],
        p2=i["p2"],
        p3=i["p3"],
        p4=i["p4"],
        p=i["p"],
        ln3=i["ln3"],
        ln5=i["ln5"],
        en_days=i["en_days"],
        ft=i["ft"],
        nt=i["nt"],
        m=i["m"],
        additional=i["additional"],
        na=i["na"],
        n4=i["n4"],
        tau_c_s=f["tau_c_s"],
        tau_gps_s=f["tau_gps_s"],
    )


def decode_ephemeris(msg_type: int, payload: bytes) -> KeplerEphemeris | GlonassEphemeris:
    """Decode an ephemeris payload of type ``msg_type`` (one of :data:`EPHEMERIS_TYPES`).

    Raises :class:`gnss.rtcm.bits.ShortPayload` if the payload is truncated.
    """
    if msg_type == 1020:
        return _glonass(payload)
    return _kepler(msg_type, payload)
