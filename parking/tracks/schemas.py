"""What leaves the tracks room."""

from __future__ import annotations

from pydantic import BaseModel, Field


class NmeaIngestResult(BaseModel):
    accepted: int = Field(description="sentences read")
    rejected: int = Field(description="sentences refused: bad checksum or unreadable")
    rtcm_frames: int
    bytes_skipped: int
    fixes: int = Field(description="position fixes assembled from the sentences")
    outliers: int = Field(description="fixes the smoother rejected as outliers")
    stored: int = Field(description="track points stored (at most one per second)")
