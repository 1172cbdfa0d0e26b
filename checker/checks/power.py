"""S030, P027, P028: power results (optional since v1.0; rules from v1.1, whose timestamps are UTC).

A power result is a performance result measured with PTDaemon: besides ``performance/run_1`` (the
testing run, with the analyzer's samples in ``spl.txt``) it has ``performance/ranging`` (the ranging
run that set the analyzer's range, with its own logs and ``spl.txt``) and ``performance/power`` (the
PTD client's and server's logs and JSON). A result is a power result when any of these is present.

* **S030** a power result lacks one of those files;
* **P027** the energy metric, recomputed the way the official checkers compute it: the mean of the
  positive Watts samples strictly between LoadGen's ``power_begin`` and ``power_end``; the result is
  that mean in W (Offline, Server, Interactive) or, for SingleStream and MultiStream, the energy per
  query in mJ (mean W x window s x 1000 / ``result_query_count``). No sample in the window is an
  error; otherwise an info finding carries the figure, so a report shows each power result's energy;
* **P028** the power logs are inconsistent: the samples leave gaps in the window longer than the
  round allows, the window is empty or reversed, or the ranging run is not the same scenario as the
  testing run.

The deep PTD-log checks of the Power WG's checker (source checksums, PTD commands, UUIDs, analyzer
models) are not done here.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from checker.engine.context import Context
from checker.engine.metric import log_scenario
from checker.engine.registry import Violation, rule
from checker.findings import Severity
from checker.parse.loadgen_detail import as_number
from checker.parse.power import to_seconds

SECTION = "Power measurement rules (MLPerf Power): PTDaemon logs, ranging and testing runs, energy metric"
ENERGY_PER_QUERY = ("SingleStream", "MultiStream")


class PowerRun(NamedTuple):
    """Where a power result's evidence is, with the round's power rules that say what it must hold."""

    rules: Any
    power: Path
    ranging: Path
    testing: Path


def power_paths(ctx: Context) -> PowerRun | None:
    """The power folder, ranging folder and testing run of a power result (and the round's power
    rules); None when the round has no power rules or the result has no power logs at all."""
    rules = ctx.pack.power
    unit = ctx.unit
    if rules is None or unit is None:
        return None
    power = unit.path / rules.power_dir
    ranging = unit.path / rules.ranging_dir
    runs = ctx.performance_runs()
    testing = runs[0] if runs else unit.path / "performance" / "run_1"
    if power.is_dir() or ranging.is_dir() or (testing / "spl.txt").is_file():
        return PowerRun(rules, power, ranging, testing)
    return None


@rule(
    "S030",
    title="Power logs incomplete",
    scope="result",
    what="A power result (one with performance/power, performance/ranging or an spl.txt) lacks one of "
    "the power files: the PTD client and server logs and JSON in performance/power, the ranging run's "
    "LoadGen logs and spl.txt in performance/ranging, spl.txt in the testing run.",
    why="The energy figure can only be verified from the analyzer's samples of both runs and the PTD logs.",
    section=SECTION,
    fix="Copy the power folder, the ranging run and the spl.txt files as the power workflow wrote them.",
)
def power_files(ctx: Context) -> Iterator[Violation]:
    paths = power_paths(ctx)
    if paths is None:
        return
    rules, power, ranging, testing = paths
    checks = [(power, rules.power_files), (ranging, rules.run_files), (testing, ["spl.txt"])]
    for folder, names in checks:
        if not folder.is_dir():
            yield Violation(f"power result without {ctx.rel(folder)}/", path=ctx.rel(folder),
                            expected=", ".join(names), found="missing")
            continue
        for name in names:
            if not (folder / name).is_file():
                yield Violation(f"{name} missing in {ctx.rel(folder)}", path=ctx.rel(folder / name), expected=name,
                                found="missing")


@dataclass
class Window:
    begin: float
    end: float
    line: int | None


def _timezone(folder: Path, name: str) -> float:
    try:
        value = json.loads((folder / name).read_text(encoding="utf-8")).get("timezone", 0)
    except (OSError, ValueError, AttributeError):
        return 0.0
    number = as_number(value)
    return number or 0.0


def window(ctx: Context, run: Path, shift: float = 0.0) -> Window | None:
    detail = ctx.detail(run)
    if detail is None:
        return None
    begin, end = detail.get("power_begin"), detail.get("power_end")
    if begin is None or end is None:
        return None
    start, stop = to_seconds(str(begin.value)), to_seconds(str(end.value))
    if start is None or stop is None:
        return None
    return Window(start + shift, stop + shift, begin.line)


@dataclass
class Energy:
    samples: int
    mean_w: float
    duration_s: float
    value: float
    unit: str
    queries: float | None


def energy(ctx: Context) -> tuple[Energy | None, str | None, Path | None]:
    """The result's energy metric, or (None, why, file) when it cannot be computed."""
    paths = power_paths(ctx)
    unit = ctx.unit
    if paths is None or unit is None:
        return None, None, None
    rules, power, _, testing = paths
    spl_path = testing / "spl.txt"
    spl = ctx.model(spl_path, "power_spl")
    if spl is None:
        return None, None, None  # S030 / S004 report the missing or unreadable samples
    client_shift = server_shift = 0.0
    if not rules.utc_timestamps:
        client_shift, server_shift = _timezone(power, "client.json"), _timezone(power, "server.json")
    win = window(ctx, testing, client_shift)
    if win is None:
        return None, "the testing run's detail log has no readable power_begin/power_end", testing / "mlperf_log_detail.txt"
    inside = [w for t, w in zip(spl.times, spl.watts, strict=True) if win.begin < t + server_shift < win.end and w > 0]
    if not inside:
        return None, "no positive power sample between power_begin and power_end", spl_path
    mean = sum(inside) / len(inside)
    duration = win.end - win.begin
    scenario = unit.scenario or ""
    if scenario in ENERGY_PER_QUERY:
        detail = ctx.detail(testing)
        queries = detail.number("result_query_count") if detail is not None else None
        if queries is None or queries.value <= 0:
            return None, "no result_query_count in the testing run's detail log", testing / "mlperf_log_detail.txt"
        factor = 8 if scenario == "MultiStream" and log_scenario(ctx, testing) == "SingleStream" else 1
        value = mean * duration * 1000 * factor / queries.value
        return Energy(len(inside), mean, duration, value, "mJ/query", queries.value), None, spl_path
    return Energy(len(inside), mean, duration, mean, "W", None), None, spl_path


@rule(
    "P027",
    title="Power result without samples in its window",
    scope="result",
    what="A power result's energy metric cannot be computed: no positive analyzer sample (spl.txt) falls "
    "between the testing run's power_begin and power_end, or those are missing. When it can be computed, "
    "an info finding gives it: mean W for Offline/Server/Interactive, mJ per query for "
    "SingleStream/MultiStream (mean W x window x 1000 / result_query_count).",
    why="The energy figure is the power result; without samples inside the run it is not measured.",
    section=SECTION,
    fix="Rerun the power measurement with PTDaemon logging during the whole testing run (and the clocks "
    "synchronised), and copy its spl.txt next to the run's logs.",
)
def energy_metric(ctx: Context) -> Iterator[Violation]:
    result, why, path = energy(ctx)
    if result is None:
        if why is not None and path is not None:
            yield Violation(f"energy metric cannot be computed: {why}", path=ctx.rel(path))
        return
    text = (f"energy metric {result.value:.6g} {result.unit}: mean {result.mean_w:.6g} W over "
            f"{result.duration_s:.3f} s ({result.samples} samples)")
    if result.queries is not None:
        text += f", {result.queries:.0f} queries"
    yield Violation(text, path=ctx.rel(path) if path is not None else None, severity=Severity.INFO,
                    found=f"{result.value:.6g} {result.unit}")


@rule(
    "P028",
    title="Power logs inconsistent",
    scope="result",
    severity=Severity.WARNING,
    what="A power result's logs disagree: the analyzer's samples leave a gap inside the testing run's "
    "power window longer than the round allows (or start late / end early), the window is empty or "
    "reversed, or the ranging run was made in another scenario than the testing run.",
    why="Gaps hide the power drawn while no sample was taken; a ranging run of another scenario did not "
    "set the analyzer's range for this load.",
    section=SECTION,
    fix="Rerun the ranging and testing runs with the same settings and PTDaemon sampling throughout.",
)
def power_consistency(ctx: Context) -> Iterator[Violation]:
    paths = power_paths(ctx)
    if paths is None:
        return
    rules, power, ranging, testing = paths
    client_shift = server_shift = 0.0
    if not rules.utc_timestamps:
        client_shift, server_shift = _timezone(power, "client.json"), _timezone(power, "server.json")
    win = window(ctx, testing, client_shift)
    detail_path = ctx.rel(testing / "mlperf_log_detail.txt")
    if win is not None and win.end <= win.begin:
        yield Violation("power_end is not after power_begin", path=detail_path, line=win.line,
                        expected="power_end > power_begin")
    spl = ctx.model(testing / "spl.txt", "power_spl")
    if win is not None and spl is not None and win.end > win.begin:
        times = sorted(t + server_shift for t in spl.times if win.begin <= t + server_shift <= win.end)
        edges = [win.begin, *times, win.end]
        gaps = [(b - a, a) for a, b in zip(edges, edges[1:], strict=False)]
        worst = max(gaps, default=(0.0, win.begin))
        if worst[0] > rules.max_gap_s:
            yield Violation(f"power samples leave a gap of {worst[0]:.1f} s inside the run's power window "
                            f"({len(times)} samples in {win.end - win.begin:.1f} s)",
                            path=ctx.rel(testing / "spl.txt"), expected=f"gaps <= {rules.max_gap_s:g} s",
                            found=f"{worst[0]:.1f} s")
    if (ranging / "mlperf_log_detail.txt").is_file() or (ranging / "mlperf_log_summary.txt").is_file():
        ranged, tested = log_scenario(ctx, ranging), log_scenario(ctx, testing)
        if ranged and tested and ranged != tested:
            yield Violation(f"the ranging run is {ranged}, the testing run {tested}",
                            path=ctx.rel(ranging), expected=tested, found=ranged)
