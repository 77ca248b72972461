"""What every parking service call needs: the transaction, the settings and one 'now'.

One clock reading per request keeps a request's decisions consistent (a booking checked and priced
at the same instant). ``changed_lots`` collects lots whose live availability must be refreshed
once the transaction has committed; ``after_commit`` holds other such follow-ups.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from core.db import utcnow
from core.settings import Settings


@dataclass
class Ctx:
    db: AsyncSession
    settings: Settings
    now: datetime = field(default_factory=utcnow)
    changed_lots: set[uuid.UUID] = field(default_factory=set)
    lots_changed: bool = False  # lot metadata (name, place, tariff...) changed: search caches reload
    # work that must only follow a successful commit (counters of what was stored)
    after_commit: list[Callable[[], Awaitable[None]]] = field(default_factory=list)

    @property
    def plate_key(self) -> bytes:
        return self.settings.plate_hash_key.encode()
