"""What a solution run is asked to do: RTKLIB's processing options, the ones that matter here.

Defaults are RTKLIB 2.4.3's (and the reference configurations' in ../shared/data/gnss/reference):
elevation mask 15 degrees, ratio threshold 3.0, phase error 3 mm + 3 mm/sin(el), code-to-phase
error ratio 100, initial ambiguity sigma 30 cycles, ambiguity process noise 1e-4 cycles/sqrt(s).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

Mode = Literal["single", "dgnss", "kinematic", "static"]
ArMode = Literal["continuous", "instantaneous", "fix-and-hold", "off"]
MODES: Final = ("single", "dgnss", "kinematic", "static")
AR_MODES: Final = ("continuous", "instantaneous", "fix-and-hold", "off")
SUPPORTED_SYSTEMS: Final = "GECJ"  # every mode, from every input (RINEX and RTCM)
# GLONASS as well, from RINEX, in code positioning (single, DGNSS); the carrier-phase modes accept
# and leave it out (see RtkOptions.systems_used)
ACCEPTED_SYSTEMS: Final = SUPPORTED_SYSTEMS + "R"


@dataclass(frozen=True, slots=True)
class RtkOptions:
    mode: Mode = "kinematic"
    systems: str = "GECJ"
    freqs: int = 2
    ar: ArMode = "continuous"
    elmask_deg: float = 15.0
    ratio_threshold: float = 3.0
    partial_ar: bool = True  # drop the lowest satellites one by one when the full set fails the ratio
    min_fix_to_hold: int = 10  # consecutive fixes before fix-and-hold feeds them back (arminfix)
    err_phase_m: float = 0.003
    err_phase_el_m: float = 0.003
    code_phase_ratio: float = 100.0
    std_bias_cyc: float = 30.0
    prn_bias_cyc: float = 1e-4
    slip_gf_m: float = 0.05
    # a phase change that disagrees with the Doppler-integrated one by more than this per second
    # of interval (after the change common to all satellites: a receiver clock jump) is a slip;
    # real data stay within 0.3 m (see gnss.rtk.slips); 0: off
    slip_doppler_m: float = 1.0
    bds_iono: bool = True  # BeiDou's broadcast ionosphere for its satellites, if the nav has BDSA/BDSB
    cn0_mask_dbhz: float = 0.0  # signals weaker than this are not used (RTKLIB's snrmask); 0: off
    max_innovation_m: float = 30.0
    max_base_age_s: float = 30.0
    max_outage_epochs: int = 5
    var_hold_amb_cyc2: float = 0.001
    # kinematic: velocity states with a constant-velocity model (RTKLIB's pos1-dynamics; the
    # reference configurations have it off: position re-seeded from single point each epoch)
    dynamics: bool = False
    accel_h_mps2: float = 3.0  # white acceleration noise of that model, horizontal and vertical
    accel_v_mps2: float = 1.0
    code_smoothing_s: float = 30.0  # DGNSS: carrier-smoothing window of the code (0: raw code)
    # receiver antennas (RTKLIB's file-rcvantfile, ant1-/ant2-anttype, ant*-antdele/n/u,
    # pos1-posopt2): ANTEX file; antenna type "model radome", "*" for the observation file's
    # header (type and delta), "" for none; delta = marker to ARP, east/north/up (m)
    antex_path: Path | None = None
    rover_antenna: str = ""
    base_antenna: str = ""
    rover_delta_enu_m: tuple[float, float, float] = (0.0, 0.0, 0.0)
    base_delta_enu_m: tuple[float, float, float] = (0.0, 0.0, 0.0)
    antenna_pcv: bool = False  # elevation-dependent PCV as well as the offsets (RTKLIB's default: off)

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}")
        if self.ar not in AR_MODES:
            raise ValueError(f"ar must be one of {AR_MODES}")
        if self.freqs not in (1, 2, 3):
            raise ValueError("freqs must be 1, 2 or 3")
        bad = set(self.systems) - set(ACCEPTED_SYSTEMS)
        if bad or not self.systems:
            raise ValueError(f"systems must be letters of {ACCEPTED_SYSTEMS!r}")
        if not self.systems_used:
            raise ValueError(f"mode {self.mode!r} needs a system besides GLONASS")

    @property
    def systems_used(self) -> str:
        """The systems the engine reads. The carrier-phase modes leave GLONASS out: its FDMA phase
        cannot enter our double differences (see :mod:`gnss.rtk.filter`), and as the mere seed of
        the filter's position (30 m sigma) it changes no solution yet costs a fifth of the speed
        (its orbits are integrated, and its ambiguity states would widen the filter)."""
        return self.systems.replace("R", "") if self.mode in ("kinematic", "static") else self.systems
