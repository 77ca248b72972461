"""What a solution run is asked to do: RTKLIB's processing options, the ones that matter here.

Defaults are RTKLIB 2.4.3's (and the reference configurations' in ../shared/data/gnss/reference):
elevation mask 15 degrees, ratio threshold 3.0, phase error 3 mm + 3 mm/sin(el), code-to-phase
error ratio 100, initial ambiguity sigma 30 cycles, ambiguity process noise 1e-4 cycles/sqrt(s).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

Mode = Literal["single", "dgnss", "kinematic", "static"]
ArMode = Literal["continuous", "instantaneous", "fix-and-hold", "off"]
MODES: Final = ("single", "dgnss", "kinematic", "static")
AR_MODES: Final = ("continuous", "instantaneous", "fix-and-hold", "off")
SUPPORTED_SYSTEMS: Final = "GECJ"


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
    max_innovation_m: float = 30.0
    max_base_age_s: float = 30.0
    max_outage_epochs: int = 5
    var_hold_amb_cyc2: float = 0.001
    code_smoothing_s: float = 30.0  # DGNSS: carrier-smoothing window of the code (0: raw code)

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}")
        if self.ar not in AR_MODES:
            raise ValueError(f"ar must be one of {AR_MODES}")
        if self.freqs not in (1, 2, 3):
            raise ValueError("freqs must be 1, 2 or 3")
        bad = set(self.systems) - set(SUPPORTED_SYSTEMS)
        if bad or not self.systems:
            raise ValueError(f"systems must be letters of {SUPPORTED_SYSTEMS!r} (GLONASS is not supported)")
