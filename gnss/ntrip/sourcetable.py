"""The sourcetable: one STR record (19 fields) per mountpoint, computed live from its stream.

Field order (NTRIP 2.0, RTCM 10410.1 table 5): STR; mountpoint; identifier; format;
format-details; carrier; nav-system; network; country; latitude; longitude; nmea; solution;
generator; compr-encryp; authentication; fee; bitrate; misc.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from gnss.ntrip.mounts import StreamStats


@dataclass(frozen=True, slots=True)
class MountInfo:
    name: str
    identifier: str = ""
    network: str = "beidou-mobility"
    country: str = "CHN"
    authentication: str = "B"  # B basic, N none
    nmea: int = 0  # 1: the caster wants the rover's position (GGA)
    solution: int = 0  # 0 single base, 1 network


class MountState(Protocol):
    """What a record says of a mount's stream (the caster's ``Mount``; typed here so that this
    module needs nothing from the caster that imports it)."""

    @property
    def stats(self) -> StreamStats: ...
    @property
    def online(self) -> bool: ...


def _clean(text: str) -> str:
    return text.replace(";", ",").replace("\r", " ").replace("\n", " ")


def str_record(info: MountInfo, mount: MountState | None) -> str:
    stats = mount.stats if mount is not None else None
    rates = stats.rates() if stats is not None else {}
    details = ",".join(f"{t}({r})" for t, r in rates.items())
    lat = f"{stats.lat:.2f}" if stats is not None and stats.lat is not None else "0.00"
    lon = f"{stats.lon:.2f}" if stats is not None and stats.lon is not None else "0.00"
    online = mount is not None and mount.online
    fields = [
        "STR",
        info.name,
        _clean(info.identifier or info.name),
        "RTCM 3.x",
        details,
        str(stats.carrier() if stats is not None else 0),
        (stats.nav_systems() if stats is not None else "") or "",
        _clean(info.network),
        info.country,
        lat,
        lon,
        str(info.nmea),
        str(info.solution),
        "beidou-mobility",
        "none",
        info.authentication,
        "N",
        str(stats.bitrate() if stats is not None and online else 0),
        "online" if online else "offline",
    ]
    return ";".join(fields)


def sourcetable(mounts: Sequence[tuple[MountInfo, MountState | None]]) -> bytes:
    lines = [str_record(info, mount) for info, mount in mounts]
    lines.append("ENDSOURCETABLE")
    return ("\r\n".join(lines) + "\r\n").encode("latin-1", "replace")
