"""Round detection: which round's rules a tree was made under, from its logs and layout.

The strongest evidence is the LoadGen seeds in the performance logs (each round announces its own);
then the log generation (2019 text vs ``:::MLLOG``) and the compliance folder name (``audit/`` in
v0.5, ``compliance/`` later). Only a handful of logs are read, and their parse results are reused
by the checks through the shared :class:`Evidence` cache when one is given.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from checker.discover import Tree
from checker.engine.rulepack import PackError, known_rounds, load_pack
from checker.parse.loadgen_detail import parse_detail

SAMPLE_LOGS = 12


@dataclass
class Detection:
    round: str | None
    reasons: list[str] = field(default_factory=list)
    seed_votes: dict[str, int] = field(default_factory=dict)


def _sample_details(tree: Tree) -> list:
    logs = []
    for unit in tree.units:
        perf = unit.path / "performance"
        for name in ("run_1", "run1", "."):
            path = (perf / name / "mlperf_log_detail.txt") if name != "." else perf / "mlperf_log_detail.txt"
            if path.is_file():
                result = parse_detail(path, root=tree.root)
                if result.model is not None:
                    logs.append(result.model)
                break
        if len(logs) >= SAMPLE_LOGS:
            break
    return logs


def _is_versioned(name: str) -> bool:
    """``v1.0`` and the like; custom rounds (``sample``) have no version number."""
    return any(part.isdigit() for part in name.lstrip("v").split("."))


def detect_round(tree: Tree, rounds: list[str] | None = None) -> Detection:
    rounds = rounds or known_rounds()
    packs = {}
    for name in rounds:
        try:
            packs[name] = load_pack(name)
        except PackError:
            continue
    details = _sample_details(tree)
    votes: Counter[str] = Counter()
    formats: Counter[str] = Counter()
    for log in details:
        formats[log.format] += 1
        seed = log.integer("effective_qsl_rng_seed")
        if seed is None:
            continue
        for name, pack in packs.items():
            if pack.seeds.get("qsl_rng_seed") == seed.value:
                votes[name] += 1
    detection = Detection(round=None, seed_votes=dict(votes))
    if votes:
        best, count = votes.most_common(1)[0]
        detection.round = best
        detection.reasons.append(f"LoadGen seeds of {best} in {count} of {len(details)} sampled performance logs")
        return detection
    log_format = formats.most_common(1)[0][0] if formats else None
    compliance_names = {entry for sub in tree.submissions for entry in sub.entries}
    # Rounds without a version number (the sample round, a company's in-house rounds) are chosen
    # by their seeds only: a tree whose seeds match no round is far likelier a real round's.
    candidates = [n for n, p in packs.items() if (log_format is None or p.log_format == log_format)
                  and _is_versioned(n)]
    for name in candidates:
        folder = packs[name].detection.compliance_dir
        if folder and folder in compliance_names:
            detection.round = name
            detection.reasons.append(f"{log_format or 'unknown'} logs and a {folder}/ folder")
            return detection
    if candidates:
        detection.round = candidates[-1]
        detection.reasons.append(f"{log_format or 'no'} logs; newest round with that log format")
    return detection
