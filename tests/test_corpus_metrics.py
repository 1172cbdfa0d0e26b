"""The headline value we read for each result equals the official checker's ``result_value``.

How the official value was printed differs per round, so the comparison does too:

* v0.5 (2019 checker): the summary's figure as printed; SingleStream latency in ns. Relative error
  must be at most 1e-6.
* v0.7 (r0.7 checker): the summary's figure; SingleStream in ms (ns / 1e6); an Offline folder
  holding a SingleStream run reports 'QPS w/o loadgen overhead'. At most 1e-6.
* v1.0 (v1.0.1 checker): the detail log's keys; the checker's log prints six significant
  figures, so our value rounded to six significant figures must equal it (and at most 1e-6 when
  the official value carries more digits).
"""

from __future__ import annotations

import pytest
from corpus_cache import verdict_rows


def _close(ours: float, official: float) -> bool:
    if official == 0:
        return ours == 0
    if abs(ours - official) <= 1e-6 * abs(official):
        return True
    return float(f"{ours:.6g}") == official


@pytest.mark.parametrize("round_name", ["v0.5", "v0.7", "v1.0"])
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
