"""The caster's live state as the API sees it.

The caster (a process of its own, or a task of ``beidou serve --district``) writes a snapshot of
its mounts (clients, bytes, drops, message rates, last-frame age, base position) under
``SNAPSHOT_KEY`` every second, stamped with the time it was taken. An operator sees the live state
of its own mounts only; a mount not in the snapshot is shown offline, and so is every mount of a
snapshot older than ``SNAPSHOT_STALE_S`` (a caster that stopped cannot say so itself).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Any

from core.live import LiveStore, LiveStoreUnavailable
from parking.identity.access import Principal
from parking.identity.schemas import Role
from parking.ntrip.service import mounts_of
from parking.unit import Ctx

SNAPSHOT_KEY = "ntrip:mounts"
SNAPSHOT_STALE_S = 5.0


async def publish_caster_state(
    live: LiveStore, snapshot: Callable[[], list[dict[str, object]]], *, interval_s: float = 1.0
) -> None:
    """Forever: the caster's mounts into the live store, where every API process reads them."""
    while True:
        with contextlib.suppress(LiveStoreUnavailable):  # the store may be away; the caster goes on
            await live.set_json(SNAPSHOT_KEY, {"at": time.time(), "mounts": snapshot()})
        await asyncio.sleep(interval_s)


async def live_snapshot(live: LiveStore) -> list[dict[str, Any]]:
    try:
        (snapshot,) = await live.get_json_many([SNAPSHOT_KEY])
    except LiveStoreUnavailable:
        return []
    if not isinstance(snapshot, dict) or time.time() - float(snapshot.get("at", 0)) > SNAPSHOT_STALE_S:
        return []
    return list(snapshot.get("mounts") or [])


async def mount_states(ctx: Ctx, principal: Principal, live: LiveStore) -> list[dict[str, Any]]:
    """The caller's mounts (all for an admin) with the caster's live figures."""
    mounts = await mounts_of(ctx, principal)
    live_by_name = {m["mount"]: m for m in await live_snapshot(live)}
    out = []
    for mount in mounts:
        state = live_by_name.get(mount.name) or {"mount": mount.name, "online": False, "clients": 0}
        out.append({**state, "identifier": mount.identifier})
    if principal.role == Role.ADMIN:  # virtual and mirrored mounts are the platform's
        known = {m.name for m in mounts}
        out += [m for name, m in live_by_name.items() if name not in known]
    return out
