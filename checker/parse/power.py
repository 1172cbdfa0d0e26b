"""PTDaemon's ``spl.txt``: the power analyzer's samples, one per line, next to a power run's logs.

A line is ``Time,<MM-DD-YYYY HH:MM:SS.fff>,Watts,<W>,Volts,<V>,Amps,<A>,PF,<pf>,Mark,<run mark>``;
the fields after the timestamp come in name/value pairs. Lines not starting with ``Time`` (PTD
writes none in practice, some submitters add headers) are skipped. The samples are kept as compact
parallel lists (a long Offline run at 1 Hz has tens of thousands of lines), the timestamps as naive
datetimes turned into seconds since the epoch *as written* (no time zone): the energy rules align
them with LoadGen's ``power_begin``/``power_end``, which use the same clock since v1.1.
"""

from __future__ import annotations

import calendar
import datetime as _dt
import re
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, Field

from checker.parse.base import (
    ParseResult,
    ProblemSink,
    display_path,
    split_lines,
    text_or_lines,
)

KIND = "power_spl"

#: The timestamp format of spl.txt and of LoadGen's power_begin / power_end.
TIME_FORMAT = "%m-%d-%Y %H:%M:%S.%f"


_STAMP = re.compile(r"^(\d\d)-(\d\d)-(\d{4}) (\d\d):(\d\d):(\d\d(?:\.\d+)?)$")
# The usual PTDaemon line, read with one regex; anything else takes the general path below.
# A usual sample line. The classes exclude the newline too, so that the same pattern read over a
# whole file (_FAST_ROWS) gives a row per line that never crosses into the next.
_SAMPLE = (r"^Time,(\d\d)-(\d\d)-(\d{4}) (\d\d):(\d\d):(\d\d(?:\.\d+)?),Watts,([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?),"
           r"(?:[^,\n]*,[^,\n]*,)*?Mark,([^,\n]*)$")
_FAST_LINE = re.compile(_SAMPLE)
_FAST_ROWS = re.compile(_SAMPLE, re.MULTILINE)


@lru_cache(maxsize=512)
def _day_start(month: str, day: str, year: str) -> float | None:
    """Seconds at the start of a written date; None when it is not a date (a run spans few dates)."""
    m, d, y = int(month), int(day), int(year)
    if not (1 <= m <= 12 and 1 <= d <= 31):
        return None
    try:
        _dt.date(y, m, d)
    except ValueError:
        return None
    return float(calendar.timegm((y, m, d, 0, 0, 0, 0, 0, 0)))


def clear_caches() -> None:
    """Forget the dates seen (see checker.parse.kinds.clear_caches)."""
    _day_start.cache_clear()


def _stamp_seconds(month: str, day: str, year: str, hour: str, minute: str, second: str) -> float | None:
    start = _day_start(month, day, year)
    h, mi, sec = int(hour), int(minute), float(second)
    if start is None or not (h < 24 and mi < 60 and sec < 61):
        return None
    return start + h * 3600 + mi * 60 + sec


def to_seconds(text: str) -> float | None:
    """``07-23-2024 15:47:16.858`` → seconds since the epoch of that wall-clock time (UTC assumed)."""
    if isinstance(text, str):
        found = _STAMP.match(text.strip())
        if found:
            return _stamp_seconds(*found.groups())
    try:
        moment = _dt.datetime.strptime(text.strip(), TIME_FORMAT)
    except (ValueError, TypeError, AttributeError):
        return None
    return moment.replace(tzinfo=_dt.timezone.utc).timestamp()


class PowerLog(BaseModel, defer_build=True):
    """The samples of one spl.txt, in file order."""

    times: list[float] = Field(default_factory=list, description="seconds since the epoch, as written")
    watts: list[float] = Field(default_factory=list)
    lines: list[int] = Field(default_factory=list)
    marks: list[str] = Field(default_factory=list, description="distinct run marks, in order of appearance")
    skipped_lines: int = 0

    @property
    def count(self) -> int:
        return len(self.times)


def _all_usual(lines: list[tuple[int, str]]) -> PowerLog | None:
    """The whole file at once when every non-blank line is a usual PTDaemon sample with a valid time
    and Watts value (a run at 1 Hz has tens of thousands); None sends the file line by line."""
    found = []
    for lineno, text in lines:
        match = _FAST_LINE.match(text)
        if match is None:
            if text.strip():
                return None
            continue
        found.append((lineno, *match.groups()))
    if not found:
        return None
    lineno, *fields = zip(*found, strict=True)
    return _usual_samples(lineno, fields)


def _all_usual_text(text: str) -> PowerLog | None:
    """:func:`_all_usual` for a whole file whose every line is a usual sample (no blank line, no CR),
    with one findall in C instead of a match per line. A row of _FAST_ROWS never leaves its line,
    so as many rows as lines means every line matched, with the groups the line alone gives."""
    if "\r" in text:
        return None
    rows = _FAST_ROWS.findall(text)
    count = text.count("\n") + (not text.endswith("\n"))  # the lines split_lines gives
    if not rows or len(rows) != count:
        return None
    return _usual_samples(range(1, count + 1), list(zip(*rows, strict=True)))


def _usual_samples(lineno: Sequence[int], fields: list[tuple[str, ...]]) -> PowerLog | None:
    """The model of usual samples given as columns (the groups of _FAST_LINE), or None when a time
    or Watts value is out of range (the caller then reads the file line by line)."""
    import numpy as np  # here, not at import: a check run that reads no power log never loads numpy

    month, day, year, hour, minute, second, watts_text, marks = fields
    clock = np.array([hour, minute], dtype=np.int64)
    seconds = np.array(second, dtype=np.float64)
    watts = np.array(watts_text, dtype=np.float64)
    if (clock[0] >= 24).any() or (clock[1] >= 60).any() or (seconds >= 61).any() or np.isnan(watts).any():
        return None
    days = {key: _day_start(*key) for key in set(zip(month, day, year, strict=True))}
    if None in days.values():
        return None
    starts = np.array([days[key] for key in zip(month, day, year, strict=True)], dtype=np.float64)
    times = starts + clock[0] * 3600 + clock[1] * 60 + seconds
    seen: dict[str, None] = {}
    for mark in marks:
        if mark and mark not in seen:
            seen[mark] = None
    return PowerLog(times=times.tolist(), watts=watts.tolist(), lines=list(lineno), marks=list(seen))


def parse_spl(path: Path, root: Path | None = None) -> ParseResult[PowerLog]:
    shown = display_path(path, root)
    sink = ProblemSink(shown)
    result = ParseResult[PowerLog](kind=KIND, path=shown)
    found = text_or_lines(path, sink, "the power sample log")
    if found is None:
        result.problems = sink.finish()
        return result

    fast = _all_usual_text(found) if isinstance(found, str) else None
    if fast is not None:
        result.model = fast
        result.problems = sink.finish()
        return result
    lines = list(enumerate(split_lines(found), 1) if isinstance(found, str) else found)
    model = _all_usual(lines) or PowerLog()
    bad = 0
    for lineno, text in [] if model.times else lines:
        fast = _FAST_LINE.match(text)
        if fast is not None:
            month, day, year, hour, minute, second, watts_text, mark = fast.groups()
            moment = _stamp_seconds(month, day, year, hour, minute, second)
            watts = float(watts_text)
            if moment is not None and watts == watts:
                model.times.append(moment)
                model.watts.append(watts)
                model.lines.append(lineno)
                if mark and (not model.marks or model.marks[-1] != mark) and mark not in model.marks:
                    model.marks.append(mark)
                continue
        if not text.strip():
            continue
        fields = [f.strip() for f in text.split(",")]
        if fields[0] != "Time":
            model.skipped_lines += 1
            continue
        moment = to_seconds(fields[1]) if len(fields) > 1 else None
        pairs = dict(zip(fields[2::2], fields[3::2], strict=False))
        try:
            watts = float(pairs.get("Watts", "nan"))
        except ValueError:
            watts = float("nan")
        if moment is None or watts != watts:
            bad += 1
            if bad <= 5:
                sink.add("syntax", "power sample line without a readable time or Watts value", line=lineno,
                         expected="Time,MM-DD-YYYY HH:MM:SS.fff,Watts,<number>,...", found=text[:80])
            continue
        model.times.append(moment)
        model.watts.append(watts)
        model.lines.append(lineno)
        mark = pairs.get("Mark")
        if mark and (not model.marks or model.marks[-1] != mark) and mark not in model.marks:
            model.marks.append(mark)
    if bad > 5:
        sink.add("syntax", f"{bad - 5} further unreadable power sample lines")
    if not model.times:
        sink.add("empty", "no power samples in the file", expected="Time,... lines")
    result.model = model
    result.problems = sink.finish()
    return result
