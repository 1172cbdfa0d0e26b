"""The headline value we read for each result equals the official checker's ``result_value``.

How the official value was printed differs per round, so the comparison does too:

* v0.5 (2019 checker): the summary's figure as printed; SingleStream latency in ns. Relative error
  must be at most 1e-6.
* v0.7 (r0.7 checker): the summary's figure; SingleStream in ms (ns / 1e6); an Offline folder
  holding a SingleStream run reports 'QPS w/o loadgen overhead'. At most 1e-6.
* v1.0 (v1.0.1 checker): the detail log's keys; the checker's log prints six significant
  figures, so our value rounded to six significant figures must equal it (and at most 1e-6 when
  the official value carries more digits).
* v4.1 (tag v4.1 monolith): the detail log's keys as the v4.1 pack names them, compared the same
  way. SingleStream and MultiStream report the early-stopping estimates (early_stopping_latency_ss /
  _ms, ns) in ms, exactly as the checker divides them; Server the completed (not scheduled)
  samples per second; the LLMs tokens per second: Llama2 result_tokens_per_second (Offline) and
  result_completed_tokens_per_second (Server), GPT-J the inferred
  result_inferred_tokens_per_second / result_inferred_completed_tokens_per_second. Power results
  print "<value> with power_metric = <W or mJ> and power_efficiency ...": the first figure is the
  result, and the energy metric is compared with P027's recomputation (test below).
"""

from __future__ import annotations

import re

import pytest
from corpus_cache import official_log, verdict_rows


def _close(ours: float, official: float) -> bool:
    if official == 0:
        return ours == 0
    if abs(ours - official) <= 1e-6 * abs(official):
        return True
    return float(f"{ours:.6g}") == official


@pytest.mark.parametrize("round_name", ["v0.5", "v0.7", "v1.0", "v4.1"])
def test_headline_metric_matches_official(corpus_report, round_name):
    doc = corpus_report(round_name)
    ours = {(r.submitter, r.division, r.system, r.benchmark, r.scenario): r for r in doc.results}
    compared = 0
    mismatches = []
    for row in verdict_rows(round_name):
        if not row["result_value"]:
            continue
        official = float(row["result_value"].split()[0])  # v1.0 power rows add "with power_metric = …"
        result = ours[(row["submitter"], row["division"], row["system"], row["benchmark"], row["scenario"])]
        compared += 1
        if result.metric is None or not _close(result.metric.value, official):
            mismatches.append((result.path, official, result.metric.value if result.metric else None))
    assert compared > 30
    assert mismatches == []


def test_energy_metric_matches_official_v41(corpus_report):
    """v4.1 power results: P027's energy metric (mean W in the window; mJ per query for SingleStream
    and MultiStream) equals the official checker's power_metric, to the 6 digits it prints."""
    doc = corpus_report("v4.1")
    ours = {r.path.lower(): r for r in doc.results}
    compared = 0
    for line in official_log("v4.1"):
        match = re.search(r"Results (\S+) \S+ with power_metric = ([\d.]+)", line)
        if match is None:
            continue
        official = float(match.group(2))
        result = ours[match.group(1).lower()]
        energy = [f for f in result.findings if f.rule == "P027"]
        assert len(energy) == 1 and energy[0].severity == "info", result.path
        value = float(energy[0].found.split()[0])
        assert abs(value - official) <= 1e-5 * official, (result.path, value, official)
        compared += 1
    assert compared == 5
