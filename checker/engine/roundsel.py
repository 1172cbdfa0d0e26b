"""Round detection: which round's rules a tree was made under, from its logs and layout.

The strongest evidence is the LoadGen seeds in the performance logs (each round announces its own,
v0.5 to v6.1 all differ). Without a seed match (edited or default seeds, a custom build), the LoadGen
version in the logs votes: each round's pack names the version prefixes of its LoadGen releases and
the longest matching prefix wins (``6.0.16`` is v6.1's, whose LoadGen embeds the v6.1 seeds, ``6.0.``
v6.0's). Then the log generation (2019 text vs ``:::MLLOG``) and the layout: the compliance folder
name (``audit/`` in v0.5, ``compliance/`` from v0.7) and the code folder (``src/`` since v6.0, whose
results folders also hold the measurements and compliance runs). Only a handful of logs are read.

With ``check --cache DIR`` the detection is remembered in ``DIR/detection/`` with everything it
looked at: the checker digest (every pack, every source file), the tree's results and submitter
entries, and each log it probed in order (exists, stays inside the tree, and the parse cache's
fingerprint: size, mtime, head/tail digest). A
later run whose probes all give the same answers reuses the detection without loading every pack
or parsing any log; anything else (or any cache error) detects again.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from checker.discover import Tree, inside_tree
from checker.engine.evidence import Evidence
from checker.engine.rulepack import PackError, known_rounds, load_round_markers

SAMPLE_LOGS = 12


@dataclass
class Detection:
    round: str | None
    reasons: list[str] = field(default_factory=list)
    seed_votes: dict[str, int] = field(default_factory=dict)


def _probe(tree: Tree, path: Path) -> tuple:
    """What the sampling learns about a candidate log without reading it (see :func:`_sample_details`)."""
    usable = path.is_file() and inside_tree(tree.root, path)  # never follow a link out
    if not usable:
        return (False,)
    from checker.engine.cache import fingerprint

    return True, fingerprint(path)


def _sample_details(tree: Tree, evidence: Evidence | None = None, probes: list | None = None) -> list:
    """A few performance logs; read through ``evidence`` when given (its disk cache, and the
    results handed on to the checks so that no log is parsed twice). ``probes`` collects each
    candidate path looked at, in order, with what :func:`_probe` saw."""
    from checker.parse.loadgen_detail import parse_detail

    logs = []
    for unit in tree.units:
        perf = unit.path / "performance"
        for name in ("run_1", "run1", "."):
            path = (perf / name / "mlperf_log_detail.txt") if name != "." else perf / "mlperf_log_detail.txt"
            seen = _probe(tree, path)
            if probes is not None:
                probes.append((tree.rel(path), seen))
            if seen[0]:
                if evidence is not None:
                    result = evidence.read(path, "loadgen_detail")
                    evidence.donated[(path, "loadgen_detail")] = result
                else:
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


def _by_version(packs: dict, version: str) -> str | None:
    """The round whose LoadGen version prefixes match ``version`` the longest (ties: the newest)."""
    best: tuple[int, int, str] | None = None
    for order, (name, pack) in enumerate(packs.items()):
        for prefix in pack.detection.loadgen_version_prefixes:
            if version.startswith(prefix) and (best is None or (len(prefix), order) > best[:2]):
                best = (len(prefix), order, name)
    return best[2] if best else None


def _layout_score(pack, entries: set[str]) -> int:
    code = any(c in entries for c in pack.layout.code_dirs)
    folder = pack.detection.compliance_dir in entries if pack.detection.compliance_dir else False
    return int(code) * 2 + int(folder) + (1 if "src" in pack.layout.code_dirs and code else 0)


def _newest_of_layout(candidates: list[str], packs: dict, pack) -> str:
    """Among rounds sharing ``pack``'s layout markers, the newest (rounds are listed oldest first)."""
    same = [n for n in candidates if packs[n].detection.compliance_dir == pack.detection.compliance_dir
            and packs[n].layout.code_dirs == pack.layout.code_dirs and packs[n].log_format == pack.log_format]
    return same[-1] if same else pack.round


_DETECTION_FORMAT = 1


def _detection_key(tree: Tree) -> tuple[Path, str]:
    """The cache entry's name (by tree root) and the key of what detection reads besides the logs."""
    from checker.engine.partition_cache import checker_digest

    try:
        root = str(Path(tree.root).resolve())
    except (OSError, RuntimeError):
        root = str(tree.root)
    name = hashlib.sha256(root.encode("utf-8", "surrogateescape")).hexdigest()
    parts = [checker_digest(), root, [unit.rel for unit in tree.units],
             [sorted(sub.entries) for sub in tree.submissions]]
    key = hashlib.sha256(repr(parts).encode("utf-8", "surrogateescape")).hexdigest()
    return Path("detection") / name[:2] / f"{name[2:]}.pkl", key


def _cached_detection(tree: Tree, cache_dir: Path) -> tuple[Detection | None, Path | None, str | None]:
    from checker.engine.cache import read_entry

    try:
        entry, key = _detection_key(tree)
    except Exception:  # noqa: BLE001 - a tree we cannot fingerprint is detected as usual
        return None, None, None
    try:
        stored_format, stored_key, probes, detection = read_entry(cache_dir / entry)
        if stored_format != _DETECTION_FORMAT or stored_key != key or not isinstance(detection, Detection):
            return None, entry, key
        for rel, seen in probes:
            if _probe(tree, tree.root / rel) != seen:
                return None, entry, key
    except Exception:  # noqa: BLE001 - a missing, stale or foreign entry is a miss
        return None, entry, key
    return detection, entry, key


def detect_round(tree: Tree, rounds: list[str] | None = None, evidence: Evidence | None = None,
                 cache_dir: Path | None = None) -> Detection:
    """The tree's round and why. ``cache_dir``: the ``check --cache`` folder (see the module docstring;
    used only for the shipped rounds, ``rounds`` None)."""
    entry = key = None
    if cache_dir is not None and rounds is None:
        cached, entry, key = _cached_detection(tree, Path(cache_dir))
        if cached is not None:
            return cached
    probes: list = []
    detection = _detect(tree, rounds, evidence, probes)
    if entry is not None and key is not None:
        from checker.engine.cache import write_entry

        write_entry(Path(cache_dir) / entry, (_DETECTION_FORMAT, key, probes, detection))  # type: ignore[arg-type]
    return detection


def _detect(tree: Tree, rounds: list[str] | None, evidence: Evidence | None, probes: list) -> Detection:
    rounds = rounds or known_rounds()
    packs = {}
    for name in rounds:
        try:
            packs[name] = load_round_markers(name)  # detection compares them; no schema check needed
        except PackError:
            continue
    details = _sample_details(tree, evidence, probes)
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
    # Rounds without a version number (the sample round, a company's in-house rounds) are chosen
    # by their seeds only: a tree whose seeds match no round is far likelier a real round's.
    versioned = {n: p for n, p in packs.items() if _is_versioned(n)}
    version_votes: Counter[str] = Counter()
    for log in details:
        version = (log.loadgen_version or "").split("@")[0].strip()
        fmt = "text2019" if log.format == "text2019" else "mllog"  # ".5a1" is v0.5's, v0.7's and v1.0's
        same_format = {n: p for n, p in versioned.items() if p.log_format == fmt}
        match = _by_version(same_format, version) if version else None
        if match is not None:
            version_votes[match] += 1
    if version_votes:
        best, count = version_votes.most_common(1)[0]
        detection.round = best
        detection.reasons.append(f"LoadGen version of {best} in {count} of {len(details)} sampled performance logs "
                                 "(no round's seeds)")
        return detection
    log_format = formats.most_common(1)[0][0] if formats else None
    entries = {entry for sub in tree.submissions for entry in sub.entries}
    candidates = [n for n, p in versioned.items() if log_format is None or p.log_format == log_format]
    # The newest layout first: src/ (v6.0+) is the most specific marker, compliance/ the least.
    for name in sorted(candidates, key=lambda n: _layout_score(packs[n], entries), reverse=True):
        pack = packs[name]
        folder = pack.detection.compliance_dir
        code = [c for c in pack.layout.code_dirs if c in entries]
        if folder and folder in entries and (code or not pack.layout.code_dirs):
            detection.round = _newest_of_layout(candidates, packs, pack)
            detection.reasons.append(f"{log_format or 'unknown'} logs and a {'/, '.join([folder, *code])}/ layout")
            return detection
    if candidates:
        detection.round = candidates[-1]
        detection.reasons.append(f"{log_format or 'no'} logs; newest round with that log format")
    return detection
