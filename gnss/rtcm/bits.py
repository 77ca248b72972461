"""Bit-field extraction for RTCM 3 payloads (MSB first).

Two tools for two shapes of data: :class:`BitReader` walks a short run of heterogeneous fields
(headers, ephemerides) on one Python integer; :func:`columns` and :func:`records` cut whole blocks
of equal-width fields out of a ``np.unpackbits`` array with one gather and one matrix product,
which is how MSM satellite/cell data and the legacy per-satellite records are read without a
Python loop per field. The product runs in float64 (BLAS): every RTCM field is at most 38 bits,
so the sums of powers of two are exact, and it is several times faster than an int64 matmul.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from numpy.typing import NDArray

__all__ = ["BitReader", "ShortPayload", "columns", "records", "to_signed", "unpack"]

Bits = NDArray[np.uint8]
F64 = NDArray[np.float64]

_WEIGHTS: tuple[F64, ...] = tuple(2.0 ** np.arange(w - 1, -1, -1, dtype=np.float64) for w in range(64))


class ShortPayload(ValueError):
    """The payload ends before the fields its own header announces."""


class BitReader:
    """Sequential reader over a payload; ``u``/``s``/``sm`` read unsigned, two's-complement and
    sign-magnitude fields (RTCM uses all three)."""

    __slots__ = ("_nbits", "_value", "pos")

    def __init__(self, data: bytes, pos: int = 0) -> None:
        self._value = int.from_bytes(data, "big")
        self._nbits = len(data) * 8
        self.pos = pos

    @property
    def remaining(self) -> int:
        return self._nbits - self.pos

    def u(self, width: int) -> int:
        end = self.pos + width
        if end > self._nbits:
            raise ShortPayload(f"need bit {end}, payload has {self._nbits}")
        self.pos = end
        return (self._value >> (self._nbits - end)) & ((1 << width) - 1)

    def s(self, width: int) -> int:
        v = self.u(width)
        return v - (1 << width) if v >> (width - 1) else v

    def sm(self, width: int) -> int:
        v = self.u(width)
        mag = v & ((1 << (width - 1)) - 1)
        return -mag if v >> (width - 1) else mag

    def skip(self, width: int) -> None:
        self.u(width)

    def chars(self, count: int) -> str:
        """``count`` ISO 8859-1 characters (RTCM DF030/DF033/DF228...)."""
        return bytes(self.u(8) for _ in range(count)).decode("latin-1")


def unpack(payload: bytes) -> Bits:
    return np.unpackbits(np.frombuffer(payload, dtype=np.uint8))


@lru_cache(maxsize=4096)
def _plan(widths: tuple[int, ...], count: int, interleaved: bool) -> tuple[NDArray[np.intp], F64]:
    """Bit indices relative to the first field, and the block-diagonal weight matrix, that read
    ``count`` items of ``len(widths)`` fields in one gather + matmul. ``interleaved``: item by item
    (legacy records); otherwise field by field (MSM: all of field 0, then all of field 1...)."""
    total = sum(widths)
    items = np.arange(count)[:, None]
    idx = np.empty((count, total), dtype=np.intp)
    weights = np.zeros((total, len(widths)), dtype=np.float64)
    col = block_start = 0
    for j, width in enumerate(widths):
        lane = np.arange(width)
        if interleaved:
            idx[:, col : col + width] = items * total + col + lane
        else:
            idx[:, col : col + width] = block_start + items * width + lane
        weights[col : col + width, j] = _WEIGHTS[width]
        block_start += width * count
        col += width
    return idx, weights


def _read(bits: Bits, start: int, widths: tuple[int, ...], count: int, interleaved: bool) -> F64:
    end = start + sum(widths) * count
    if end > bits.shape[0]:
        raise ShortPayload(f"need bit {end}, payload has {bits.shape[0]}")
    idx, weights = _plan(widths, count, interleaved)
    out: F64 = bits[start:end][idx] @ weights
    return out


def columns(bits: Bits, start: int, widths: tuple[int, ...], count: int) -> F64:
    """Consecutive blocks (block j holds ``count`` unsigned ``widths[j]``-bit fields) as a
    ``(count, len(widths))`` array of exact integers - the layout of MSM satellite and cell data."""
    return _read(bits, start, widths, count, False)


def records(bits: Bits, start: int, widths: tuple[int, ...], count: int) -> F64:
    """``count`` interleaved fixed-layout records as a ``(count, len(widths))`` array of unsigned values."""
    return _read(bits, start, widths, count, True)


def to_signed(raw: F64, widths: F64 | float) -> F64:
    """Two's-complement reinterpretation of unsigned ``widths``-bit values held in floats."""
    half = 2.0 ** (np.asarray(widths) - 1)
    out: F64 = raw - (raw >= half) * (2.0 * half)
    return out
