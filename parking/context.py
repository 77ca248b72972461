"""What every parking service call needs: the transaction, the settings and one 'now'.

One clock reading per request keeps a request's decisions consistent (a booking checked and priced
at the same instant). ``changed_lots`` collects lots whose live availability must be refreshed
once the transaction has committed.
"""

from __future__ import annotations

import uuid
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

    @property
    def plate_key(self) -> bytes:
        return self.settings.plate_hash_key.encode()
