"""``--format csv``: the official checker's summary.csv columns, one row per result.

The columns and their order come from the round's rule pack (``csv_columns``): v0.5 has the
converter's ``name,model,system,…,p99``, v0.7 the checker's 25 columns (with its ``compilance`` and
``infered`` spellings, kept so that existing tooling finds them), v1.0 the same plus ``power``. What
we do differently from the official writers, on purpose:

* every result gets a row, valid or not (the official CSV listed passing results only);
* ``compilance``/``compliance`` holds our verdict (1: the result stands — valid, or its errors are
  all waived; 0: invalid) and ``errors`` the unwaived error findings covering the result (the
  official columns held the division name or a per-model running count);
* ``Location`` is the result folder relative to the repository (the checked tree plus
  ``--path-prefix``), never an absolute path of the machine that ran the check;
* values are quoted by the csv module (a ``"`` in a note cannot break the row), kept on one line,
  and a text cell starting like a spreadsheet formula is prefixed with ``'``;
* an Offline result inferred from a SingleStream run has its number in ``Result`` and 1 in
  ``infered`` (never the string the r0.7 writer put there);
* ``power`` is empty for a power result (mlperf-audit does not compute the power metric yet) and 0
  otherwise.

``--csv-columns ours`` gives a richer table (:data:`OURS`): verdict, counts, failing and waived rule
IDs, the metric with its unit, accuracy against the target, latency percentiles, system fields.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import Any

from checker.report.document import ReportDocument, ResultOut, SystemOut
from checker.report.escape import csv_cell

Row = tuple[ResultOut, SystemOut | None, ReportDocument, str]
Getter = Callable[[ResultOut, SystemOut | None, ReportDocument, str], Any]


def _sys(name: str) -> Getter:
    return lambda r, s, d, p: getattr(s, name) if s is not None else None


def _notes(r: ResultOut, s: SystemOut | None, d: ReportDocument, p: str) -> str | None:
    if s is None:
        return None
    return ". ".join(part for part in (s.hw_notes, s.sw_notes) if part) or ""


def _total_accelerators(r: ResultOut, s: SystemOut | None, d: ReportDocument, p: str) -> int | None:
    if s is None:
        return None
    try:
        return int(str(s.number_of_nodes)) * int(str(s.accelerators_per_node))
    except ValueError:
        return None


def _latency_ms(pct: str) -> Getter:
    def get(r: ResultOut, s: SystemOut | None, d: ReportDocument, p: str) -> float | None:
        value = r.latency_ns.get(pct)
        return None if value is None else value / 1e6

    return get


def _accuracy_raw(r: ResultOut, s: SystemOut | None, d: ReportDocument, p: str) -> str:
    return " ".join(a.raw for a in r.accuracy)


def _accuracy_ours(r: ResultOut, s: SystemOut | None, d: ReportDocument, p: str) -> str:
    return " ".join(f"{a.metric}={a.value:g}" for a in r.accuracy)


def _accuracy_met(r: ResultOut, s: SystemOut | None, d: ReportDocument, p: str) -> Any:
    flags = [a.meets_target for a in r.accuracy if a.meets_target is not None]
    return (1 if all(flags) else 0) if flags else None


def _metric(name: str) -> Getter:
    return lambda r, s, d, p: getattr(r.metric, name) if r.metric is not None else None


def _rules(waived: bool) -> Getter:
    def get(r: ResultOut, s: SystemOut | None, d: ReportDocument, p: str) -> str:
        ids = sorted({f.rule for f in r.findings if f.severity == "error" and f.waived == waived})
        return " ".join(ids)

    return get


def _power(r: ResultOut, s: SystemOut | None, d: ReportDocument, p: str) -> Any:
    return None if r.has_power else 0


COLUMNS: dict[str, Getter] = {
    # official names (all eras)
    "Organization": lambda r, s, d, p: r.submitter,
    "Availability": _sys("status"),
    "Division": lambda r, s, d, p: r.division,
    "SystemType": _sys("system_type"),
    "SystemName": _sys("system_name"),
    "Platform": lambda r, s, d, p: r.system,
    "Model": lambda r, s, d, p: r.benchmark,
    "MlperfModel": lambda r, s, d, p: r.mlperf_benchmark,
    "Scenario": lambda r, s, d, p: r.scenario,
    "Result": _metric("value"),
    "Accuracy": _accuracy_raw,
    "number_of_nodes": _sys("number_of_nodes"),
    "host_processor_model_name": _sys("host_processor_model_name"),
    "host_processors_per_node": _sys("host_processors_per_node"),
    "host_processor_core_count": _sys("host_processor_core_count"),
    "accelerator_model_name": _sys("accelerator_model_name"),
    "accelerators_per_node": _sys("accelerators_per_node"),
    "total_accelerators": _total_accelerators,
    "Location": lambda r, s, d, p: p + r.path,
    "framework": _sys("framework"),
    "operating_system": _sys("operating_system"),
    "notes": _notes,
    "compilance": lambda r, s, d, p: 0 if r.verdict == "invalid" else 1,
    "compliance": lambda r, s, d, p: 0 if r.verdict == "invalid" else 1,
    "errors": lambda r, s, d, p: r.errors,
    "version": lambda r, s, d, p: d.round,
    "infered": lambda r, s, d, p: 1 if r.metric is not None and r.metric.inferred else 0,
    "inferred": lambda r, s, d, p: 1 if r.metric is not None and r.metric.inferred else 0,
    "power": _power,
    "has_power": lambda r, s, d, p: r.has_power,
    "Units": _metric("unit"),
    "weight_data_types": lambda r, s, d, p: None,
    "design_power_watts": lambda r, s, d, p: None,
    "PrivateID": lambda r, s, d, p: None,
    # the v0.5 converter
    "name": lambda r, s, d, p: f"{r.submitter}/{r.division}/{r.system}/{r.benchmark}",
    "model": lambda r, s, d, p: r.benchmark,
    "system": lambda r, s, d, p: r.system,
    "division": lambda r, s, d, p: r.division,
    "submitter": lambda r, s, d, p: r.submitter,
    "acc": _accuracy_raw,
    "scenario": lambda r, s, d, p: r.scenario,
    "result": _metric("value"),
    "p50": _latency_ms("50.00"),
    "p90": _latency_ms("90.00"),
    "p99": _latency_ms("99.00"),
    # ours
    "benchmark": lambda r, s, d, p: r.benchmark,
    "mlperf_benchmark": lambda r, s, d, p: r.mlperf_benchmark,
    "path": lambda r, s, d, p: p + r.path,
    "verdict": lambda r, s, d, p: r.verdict,
    "waived_errors": lambda r, s, d, p: r.waived_errors,
    "warnings": lambda r, s, d, p: r.warnings,
    "rules_failed": _rules(waived=False),
    "rules_waived": _rules(waived=True),
    "metric_value": _metric("value"),
    "metric_unit": _metric("unit"),
    "metric_key": _metric("key"),
    "accuracy": _accuracy_ours,
    "accuracy_meets_target": _accuracy_met,
    "p50_latency_ms": _latency_ms("50.00"),
    "p90_latency_ms": _latency_ms("90.00"),
    "p99_latency_ms": _latency_ms("99.00"),
    "availability": _sys("status"),
    "system_type": _sys("system_type"),
    "system_name": _sys("system_name"),
    "round": lambda r, s, d, p: d.round,
    "system_description": lambda r, s, d, p: s.path if s is not None else None,
}

OURS = [
    "division", "submitter", "system", "benchmark", "mlperf_benchmark", "scenario", "path", "verdict",
    "errors", "waived_errors", "warnings", "rules_failed", "rules_waived", "metric_value", "metric_unit",
    "metric_key", "inferred", "accuracy", "accuracy_meets_target", "p50_latency_ms", "p90_latency_ms",
    "p99_latency_ms", "has_power", "availability", "system_type", "system_name", "number_of_nodes",
    "host_processor_model_name", "host_processors_per_node", "host_processor_core_count",
    "accelerator_model_name", "accelerators_per_node", "framework", "operating_system", "notes", "round",
    "system_description",
]


def columns_for(doc: ReportDocument, which: str = "official") -> list[str]:
    """The header: the round's official columns (from its rule pack), or ours."""
    if which == "ours" or not doc.rule_pack.csv_columns:
        return list(OURS)
    return list(doc.rule_pack.csv_columns)


def render_csv(doc: ReportDocument, columns: str = "official", path_prefix: str = "") -> str:
    """One row per result, in the document's order; unknown column names give empty cells."""
    header = columns_for(doc, columns)
    prefix = normalize_prefix(path_prefix)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(header)
    for result in doc.results:
        system = doc.systems.get(f"{result.division}/{result.submitter}/{result.system}")
        row = []
        for name in header:
            getter = COLUMNS.get(name)
            try:
                value = getter(result, system, doc, prefix) if getter is not None else None
            except Exception:  # noqa: BLE001 - a reporter never raises on odd content
                value = None
            row.append(csv_cell(value))
        writer.writerow(row)
    return out.getvalue()


def normalize_prefix(prefix: str | None) -> str:
    """``--path-prefix``: the checked tree's folder inside the repository, as ``a/b/`` (or empty)."""
    if not prefix:
        return ""
    cleaned = "/".join(part for part in prefix.replace("\\", "/").split("/") if part and part != ".")
    return cleaned + "/" if cleaned else ""
