"""One sans-I/O framer for what a receiver actually sends: NMEA lines, RTCM 3 frames and u-blox UBX
frames interleaved in one byte stream, with noise.

``feed(bytes) -> records`` may be called with any chunking (a serial read, a TCP segment, an HTTP
body) and gives the same records. The rules that keep it from ever losing sync:

- a candidate is only accepted whole and verified (NMEA: printable ASCII up to the line end within
  the length cap, then pynmea2's checksum; RTCM: CRC-24Q; UBX: Fletcher-8); a candidate that fails
  is abandoned at its first byte + 1, so a ``$`` or ``0xD3`` inside binary data, or a false RTCM
  preamble in noise, can never swallow the real sentence or frame that follows it;
- bytes that start nothing are skipped and counted (``bytes_skipped``), never an exception;
- memory is bounded: a candidate never needs more than one RTCM frame (1029 bytes) of look-ahead.

Lines starting with ``#`` (gpsd's capture headers) are comments. The NMEA 0183 cap is 82
characters; real high-precision receivers exceed it (Trimble GGA 91, SkyTraq PSTI 103, Unicore
HPD 126 in the captures of tests/data/gnss), so the cap here is 82 with a tolerance up to 128.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

import pynmea2

from gnss.nmea import BY_CLASS, TALKERS, NmeaRecord, Other, address_of
from gnss.rtcm.framing import RtcmFrame, frame_at

MAX_LINE = 128
MAX_COMMENT = 512
RTCM_MAX = 3 + 1023 + 3
UBX_MAX_PAYLOAD = 8192
# where anything can start; the rest is noise
STARTS = re.compile(rb"[$#\xd3\xb5\r\n]")
PRINTABLE = re.compile(rb"[\x20-\x7e]*\r?")
# a run of whole sentences back to back, each '$', printable ASCII without another '$', optional
# CR, LF, within the cap: cut, decoded and split in one call each rather than one per line
NMEA_RUN = re.compile(rb"(?:\$[\x20-\x23\x25-\x7e]{0,%d}\r?\n)+" % (MAX_LINE - 1))
PRINTABLE_NO_DOLLAR = re.compile(rb"[\x20-\x23\x25-\x7e]*\r?")


@dataclass(frozen=True, slots=True)
class UbxFrame:
    msg_class: int
    msg_id: int
    raw: bytes


@dataclass(frozen=True, slots=True)
class BadSentence:
    """A line that looked like NMEA but pynmea2 could not read it (or its checksum was wrong)."""

    address: str
    line: str
    checksum_error: bool


Record = NmeaRecord | RtcmFrame | UbxFrame | BadSentence


@dataclass
class FramerStats:
    nmea: Counter[str] = field(default_factory=Counter)  # by address, sentences pynmea2 read
    nmea_unparsed: Counter[str] = field(default_factory=Counter)  # by address, read by nobody
    rtcm: Counter[int] = field(default_factory=Counter)
    ubx_frames: int = 0
    checksum_errors: int = 0
    crc_errors: int = 0
    bytes_skipped: int = 0
    comment_lines: int = 0
    bytes_in: int = 0


def _ubx_length(buf: bytearray, pos: int) -> int:
    """Like ``frame_at``: total length of a valid UBX frame at pos, 0 need more, -1 none."""
    if len(buf) - pos < 6:
        return 0
    size = buf[pos + 4] | (buf[pos + 5] << 8)
    if size > UBX_MAX_PAYLOAD:
        return -1
    total = 8 + size
    if len(buf) - pos < total:
        return 0
    ck_a = ck_b = 0
    for b in buf[pos + 2 : pos + 6 + size]:
        ck_a = (ck_a + b) & 0xFF
        ck_b = (ck_b + ck_a) & 0xFF
    return total if buf[pos + 6 + size] == ck_a and buf[pos + 7 + size] == ck_b else -1


class StreamFramer:
    def __init__(self) -> None:
        self._buf = bytearray()
        self._line_start = True  # the byte at buf[0] follows a line end (or starts the stream)
        self.stats = FramerStats()

    def feed(self, data: bytes) -> list[Record]:
        self.stats.bytes_in += len(data)
        self._buf += data
        return self._scan(final=False)

    @property
    def consumed(self) -> int:
        """Bytes fed that are decided (framed or skipped); the rest wait for more input."""
        return self.stats.bytes_in - len(self._buf)

    def flush(self) -> list[Record]:
        """End of stream: whatever is left is decided with no more bytes to come."""
        return self._scan(final=True)

    def _scan(self, *, final: bool) -> list[Record]:
        buf, stats = self._buf, self.stats
        out: list[Record] = []
        pos, n = 0, len(buf)
        line_start = self._line_start
        while pos < n:
            b = buf[pos]
            if b == 0x24:  # '$'
                m = NMEA_RUN.match(buf, pos)
                if m is not None:  # the common case: a run of clean lines, cut and decoded at once
                    end = m.end()
                    self._sentences(buf[pos:end].decode("ascii").splitlines(), out)
                    pos = end
                    line_start = True
                    continue
                used = self._nmea(buf, pos, final)
            elif b == 0xD3:
                used = frame_at(buf, pos)
                if used > 0:
                    frame = RtcmFrame(
                        ((buf[pos + 3] << 4) | (buf[pos + 4] >> 4)), bytes(buf[pos : pos + used])
                    )
                    stats.rtcm[frame.msg_type] += 1
                    out.append(frame)
                elif used < 0 and buf[pos + 1] & 0xFC == 0:  # a plausible header, a failed CRC
                    stats.crc_errors += 1
            elif b == 0xB5 and pos + 1 < n and buf[pos + 1] == 0x62:
                used = _ubx_length(buf, pos)
                if used > 0:
                    stats.ubx_frames += 1
                    out.append(UbxFrame(buf[pos + 2], buf[pos + 3], bytes(buf[pos : pos + used])))
            elif b == 0x23 and line_start:  # '#': a comment line
                used = self._comment(buf, pos, final)
            elif b in (0x0A, 0x0D):
                pos += 1
                line_start = b == 0x0A or line_start
                continue
            elif b == 0xB5 and pos + 1 >= n and not final:
                used = 0
            else:
                used = -1
            if used == 0:  # the candidate needs more bytes
                if not final:
                    break
                used = -1
            if used < 0:  # nothing valid starts here: skip to the next possible start
                nxt = STARTS.search(buf, pos + 1)
                stop = nxt.start() if nxt else n
                stats.bytes_skipped += stop - pos
                pos = stop
                line_start = False
                continue
            pos += used
            line_start = buf[pos - 1] == 0x0A
        del buf[:pos]
        self._line_start = line_start
        return out

    def _sentences(self, lines: list[str], out: list[Record]) -> None:
        """Whole clean lines (no line ends) to records: pynmea2 reads each, our record wraps it.

        The hot loop of the framer, written for speed: names bound locally, ``record_of``
        inlined, and the per-address counts taken in one ``Counter.update`` per run.
        """
        parse, append, by_class, talkers = pynmea2.parse, out.append, BY_CLASS, TALKERS
        addresses: list[str] = []
        address = addresses.append
        for line in lines:
            try:
                msg = parse(line)
            except Exception:  # pynmea2 refuses it: counted by address, never fatal
                self._unreadable(line, out)
                continue
            cls = by_class.get(type(msg))
            if cls is not None and (talker := msg.talker) in talkers:
                append(cls(talker, msg.data))  # type: ignore[arg-type]
            else:
                append(Other(address_of(line), msg.data))
            comma = line.find(",")
            address(line[1:comma] if comma > 0 else address_of(line))
        self.stats.nmea.update(addresses)

    def _comment(self, buf: bytearray, pos: int, final: bool) -> int:
        """A whole printable line; a '#' in noise that would run into a sentence is not one."""
        end = buf.find(b"\n", pos, pos + MAX_COMMENT + 1)
        if end < 0:
            return 0 if len(buf) - pos <= MAX_COMMENT and not final else -1
        if PRINTABLE.fullmatch(buf, pos, end) is None or buf.find(b"$", pos, end) >= 0:
            return -1
        self.stats.comment_lines += 1
        return end - pos + 1

    def _nmea(self, buf: bytearray, pos: int, final: bool) -> int:
        """A '$' that does not start a whole clean line: wait for more bytes, or give it up.

        Given up: binary inside (a '$' byte in a UBX or RTCM payload), a cut sentence followed
        by another '$', a line over the cap.
        """
        incomplete = len(buf) - pos < MAX_LINE + 2 and not final and buf.find(b"\n", pos) < 0
        return 0 if incomplete and PRINTABLE_NO_DOLLAR.fullmatch(buf, pos + 1) else -1

    def _unreadable(self, line: str, out: list[Record]) -> None:
        address = address_of(line)
        checksum_error = _checksum_wrong(line)
        self.stats.nmea_unparsed[address] += 1
        self.stats.checksum_errors += checksum_error
        out.append(BadSentence(address, line, checksum_error))


def _checksum_wrong(line: str) -> bool:
    star = line.rfind("*")
    if star < 0 or len(line) - star != 3:
        return False
    calc = 0
    for ch in line[1:star]:
        calc ^= ord(ch)
    try:
        return int(line[star + 1 :], 16) != calc
    except ValueError:
        return True
