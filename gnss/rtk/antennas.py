"""The rover's and base's receiver antenna models for a run, as RTKLIB's ``setpcv`` (postpos.c)
sets them: a named type is looked up in the ANTEX file; ``*`` takes the type and the antenna
delta (``ANTENNA: DELTA H/E/N``) from the observation file's header, overriding the configured
delta; the delta applies even without an antenna model (the range model then moves the marker to
the ARP only). A receiver with neither gets no model at all, so runs without antennas compute
exactly what they did before.

Differences from RTKLIB, on purpose: a type named explicitly but missing from the file (or named
without a file) is an error instead of a silently ignored line in RTKLIB's trace; a header type
the file lacks (RINEX headers often say "Unknown") is ignored, as RTKLIB does.
"""

from __future__ import annotations

from gnss.antex import Antenna, ReceiverModel, find_receiver, read_antex, receiver_model
from gnss.rinex import ObsHeader
from gnss.rtk.options import RtkOptions

Antennas = tuple[ReceiverModel | None, ReceiverModel | None]  # rover, base
NO_ANTENNAS: Antennas = (None, None)


def receiver_antennas(
    options: RtkOptions,
    n_slots: int,
    rover_header: ObsHeader | None = None,
    base_header: ObsHeader | None = None,
) -> Antennas:
    """Both receivers' models for ``n_slots`` frequency slots (None: nothing to apply). Without
    headers (RTCM input) ``*`` means no antenna."""
    table = read_antex(options.antex_path) if options.antex_path is not None else None
    receivers = (
        ("rover", options.rover_antenna, options.rover_delta_enu_m, rover_header),
        ("base", options.base_antenna, options.base_delta_enu_m, base_header),
    )
    models = [
        _model(options, table, who, name, delta, header, n_slots) for who, name, delta, header in receivers
    ]
    return models[0], models[1]


def _model(
    options: RtkOptions,
    table: list[Antenna] | None,
    who: str,
    name: str,
    delta: tuple[float, float, float],
    header: ObsHeader | None,
    n_slots: int,
) -> ReceiverModel | None:
    antenna: Antenna | None = None
    if name.strip() == "*":
        if header is not None:
            h, e, n = (float(v) for v in header.antenna_delta_hen_m)
            delta = (e, n, h)
            antenna = find_receiver(table or [], header.antenna)
    elif name.strip():
        if table is None:
            raise ValueError(f"the {who} antenna {name!r} needs an ANTEX file")
        antenna = find_receiver(table, name)
        if antenna is None:
            raise ValueError(f"no receiver antenna {name!r} in {options.antex_path}")
    if antenna is None and not any(delta):
        return None
    return receiver_model(antenna, n_slots, delta, options.antenna_pcv)
