"""Mutation tests: the checker on real corpus trees damaged the ways trees get damaged.

Each case copies one small system of a corpus submitter (its results, measurements, compliance
runs, system description and code), applies one or a few seeded mutations from
:mod:`mutations` (deleted, truncated, binary or empty files, invalid UTF-8, a JSON of the wrong
type, a huge line, duplicate keys, symlink loops, symlinks out of the tree, files and folders
swapped, an unreadable file, renamed scenario folders, a result copied from another round), runs
the checker and holds it to the contract of the design brief:

* it finishes (an alarm turns a hang, e.g. on a FIFO, into a failure) without a traceback, in
  every output format, and ``check`` exits 0 or 1;
* no ``X001`` (internal error) finding;
* a mutation that breaks a rule gets at least one finding naming the damaged path;
* every result the mutation does not touch keeps the verdict it had on the undamaged tree;
* nothing is written into the tree, no symlink out of it is followed (the target of an outgoing
  link is never opened), and nothing in it is imported or executed (see :mod:`tree_guard`).

The undamaged trees are checked once per session (their verdicts and the files the checker read
are the baseline every case compares with). The normal suite runs a fixed seed set, one case per
tree and mutation kind plus combined cases and the regression seeds of bugs the mutations found;
``-m slow`` runs many seeds on more trees.

Run as root, ``chmod 000`` does not make a file unreadable; the ``unreadable`` mutation uses a FIFO
or a dangling symlink under the file's name instead (see :mod:`mutations`), and
tests/test_readonly.py checks real permission denials in a process without root's capabilities.
"""

from __future__ import annotations

import os
import shutil
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import mutations as M
import pytest
import tree_guard
from click.testing import CliRunner
from tree_builder import copy_system

from checker.check import run_check
from checker.cli import main
from checker.engine.rulepack import known_rounds
from checker.report.document import ReportDocument
from checker.report.render import FORMATS, render

REPO = Path(__file__).resolve().parent.parent
SAMPLE_TREE = REPO / "reference_runs" / "sample_submission"

#: (round, division, submitter, system): small systems covering both log generations and layouts
#: (v0.5 audit/ and text logs, v0.7/v1.0 compliance/, current MLLOG rounds, the bundled sample round)
TREES = {
    "v0.5": ("v0.5", "open", "Inspur", "NF5888M5-1GPU"),
    "v0.7": ("v0.7", "closed", "IVATech", "iva-fpga-1"),
    "v1.0": ("v1.0", "closed", "Edgecortix", "edgecortix-DNA_F_SERIES"),
    "sample": ("sample", "closed", "mlperf-audit-demo", "demo_cpu"),
}
#: further trees for the slow run
SLOW_TREES = {
    "v0.7-dividiti": ("v0.7", "closed", "Dividiti", "firefly-armnn-v20.08-neon"),
    "v1.0-mobilint": ("v1.0", "open", "Mobilint", "mobilint_edgefive"),
    "v4.1-redhat": ("v4.1", "closed", "RedHat", "L40S-RedHat-OpenShift"),
    "v4.1-untether": ("v4.1", "closed", "UntetherAI", "h13_u2_preview_dc"),
    "v6-amd": ("v6-sample", "closed", "AMD", "8xMI325x_2xEPYC-9655"),
}
#: a result of another round copied into each tree ("a result copied into another round's layout")
FOREIGN = {
    "v0.5": ("v1.0", "closed/Edgecortix/results/edgecortix-DNA_F_SERIES/resnet50/Offline"),
    "v0.7": ("v0.5", "open/Inspur/results/NF5888M5-1GPU/resnet50/Offline"),
    "v1.0": ("v0.7", "closed/IVATech/results/iva-fpga-1/resnet/SingleStream"),
    "sample": ("v1.0", "closed/Edgecortix/results/edgecortix-DNA_F_SERIES/resnet50/SingleStream"),
    "v4.1": ("v0.7", "closed/IVATech/results/iva-fpga-1/resnet/Offline"),
    "v6-sample": ("v1.0", "closed/Edgecortix/results/edgecortix-DNA_F_SERIES/resnet50/Offline"),
}
#: a check that takes longer than this hangs (a FIFO opened, a symlinked folder walked forever)
HANG_SECONDS = 60

#: Bugs the mutations found, kept as fixed cases: (tree, kind, target, seed), each with what was wrong.
REGRESSIONS = [
    # a symlink out of the tree in place of a log or accuracy.txt was followed: the outside file was
    # read as the result's evidence, and no finding mentioned the link
    ("v0.7", "symlink_outside", "closed/IVATech/results/iva-fpga-1/resnet/Offline/accuracy/accuracy.txt", 0),
    ("v1.0", "symlink_outside", "closed/Edgecortix/compliance/edgecortix-DNA_F_SERIES/resnet50/Offline/TEST04-A/"
     "performance/run_1/mlperf_log_summary.txt", 1),
    ("v0.5", "symlink_outside", "open/Inspur/results/NF5888M5-1GPU/resnet50/Offline/performance/run_1/"
     "mlperf_log_summary.txt", 2),
    # a LoadGen summary cut before its closing lines parsed without a problem
    ("v0.5", "truncate", "open/Inspur/results/NF5888M5-1GPU/resnet50/Offline/performance/run_1/"
     "mlperf_log_summary.txt", 2),
    # a settings record logged again with another value (logs of two runs mixed) went unnoticed
    ("v1.0", "duplicate_key", "closed/Edgecortix/results/edgecortix-DNA_F_SERIES/resnet50/Offline/accuracy/"
     "mlperf_log_detail.txt", 0),
    # performance/run_1 deleted while run_2 remained: run_2 silently stood in for the counted run
    ("v0.7", "delete_folder", "closed/IVATech/results/iva-fpga-1/resnet/Offline/performance/run_1", 0),
]


@dataclass
class Baseline:
    """One undamaged tree and what the checker made of it."""

    name: str
    root: Path
    round: str
    verdicts: dict[str, str]
    parsed: dict[str, str]
    required: set[str]
    foreign: list[Path]


class Hang(BaseException):
    """Raised by the alarm; not an Exception, so that the engine's isolation of failing checks
    (which turns an Exception into an X001 finding) cannot swallow a hang."""


@contextmanager
def deadline(seconds: int) -> Iterator[None]:
    """Turn a blocked call (open() of a FIFO, an endless walk) into an exception."""

    def ring(signum: int, frame: object) -> None:
        raise Hang(f"no answer within {seconds} s")

    previous = signal.signal(signal.SIGALRM, ring)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _source(corpus, round_name: str) -> Path:
    return SAMPLE_TREE if round_name == "sample" else corpus(round_name)


def _round_for(root: Path, round_name: str) -> str:
    """The pack to check with: the corpus round, or the round detected when no pack of that name exists."""
    if round_name in known_rounds():
        return round_name
    from checker.discover import discover
    from checker.engine.roundsel import detect_round

    detected = detect_round(discover(root)).round
    assert detected is not None, f"cannot detect the round of {root}"
    return detected


@pytest.fixture(scope="session")
def baselines(corpus, tmp_path_factory):
    """name -> :class:`Baseline`, built on first use."""
    built: dict[str, Baseline] = {}

    def get(name: str) -> Baseline:
        if name in built:
            return built[name]
        source_round, division, submitter, system = {**TREES, **SLOW_TREES}[name]
        root = tmp_path_factory.mktemp(f"base-{name}")
        copy_system(_source(corpus, source_round), root, division, submitter, system)
        round_name = _round_for(root, source_round)
        with M.recording_parsed(root) as parsed:
            doc = run_check(root, round_name=round_name)
        foreign_round, foreign_rel = FOREIGN[source_round]
        built[name] = Baseline(
            name=name, root=root, round=round_name, verdicts={r.path: r.verdict for r in doc.results},
            parsed=dict(parsed), required=M.required_paths(root, round_name),
            foreign=[corpus(foreign_round) / foreign_rel],
        )
        return built[name]

    return get


def _overlaps(a: str, b: str) -> bool:
    return a == b or a.startswith(b + "/") or b.startswith(a + "/")


def mutate(base: Baseline, work: Path, plan: list[tuple[str, int]],
           separate: bool = True) -> tuple[Path, list[M.Mutation], Path]:
    """A copy of the baseline tree with the planned mutations applied; targets never overlap.

    With ``separate``, each mutation also damages other results than the ones before it: two
    mutations of one result can hide each other (a TEST04-B summary is not read once TEST04-A's is
    gone), and then no single finding can be demanded of each.
    """
    tree = work / "tree"
    outside = work / "outside"
    shutil.copytree(base.root, tree, symlinks=True)
    done: list[M.Mutation] = []
    hit: set[str] = set()
    for kind, seed in plan:
        for attempt in range(20):
            mutation = M.plan(tree, seed * 100 + attempt, kind, base.parsed, base.required, base.foreign)
            if mutation is None:
                break
            touched = [t for m in done for t in (m.target, *m.named)]
            fresh = not any(_overlaps(t, x) for t in (mutation.target, *mutation.named) for x in touched)
            results = M.affected_results(mutation, list(base.verdicts))
            if separate and results & hit:
                fresh = False
            if fresh and (kind == "foreign_result" or (tree / mutation.target).exists()):
                hit |= results
                M.apply(tree, mutation, outside)
                done.append(mutation)
                break
    return tree, done, outside


def check_contract(base: Baseline, tree: Path, done: list[M.Mutation], outside: Path) -> ReportDocument:
    """Run the checker on the damaged tree and assert the reliability contract (see the module doc)."""
    labels = "; ".join(m.label() for m in done)
    before = tree_guard.snapshot(tree)
    with tree_guard.watching(tree, forbidden=[outside]) as watch, deadline(HANG_SECONDS):
        doc = run_check(tree, round_name=base.round)
        for fmt in FORMATS:
            assert render(doc, fmt), f"{fmt} report is empty ({labels})"
    assert watch.clean, f"{labels}: {watch.report()}"
    assert tree_guard.changes(before, tree_guard.snapshot(tree)) == [], labels

    findings = [f for _, f in doc.distinct_findings()]
    internal = [f"{f.message} at {f.found}" for f in findings if f.rule == "X001"]
    assert not internal, f"{labels}: {internal}"
    for mutation in done:
        if mutation.breaks_rule:
            named = [f for f in findings if M.names_path(f.path, f.message, mutation)]
            assert named, f"no finding names {mutation.label()}; findings: " + "; ".join(
                f"{f.rule} {f.path}" for f in findings if f.severity != "info")
        if mutation.kind == "symlink_outside":
            said = [f for f in findings if M.names_path(f.path, f.message, mutation) and "not followed" in f.message]
            assert said, f"no finding says the symlink {mutation.target} was not followed"
    affected: set[str] = set()
    for mutation in done:
        affected |= M.affected_results(mutation, list(base.verdicts))
    changed = {r.path: (base.verdicts[r.path], r.verdict) for r in doc.results
               if r.path in base.verdicts and r.path not in affected and r.verdict != base.verdicts[r.path]}
    assert not changed, f"{labels}: untouched results changed verdict: {changed}"
    return doc


# ------------------------------------------------------------------------------------------------
# The fixed seed set


@pytest.mark.parametrize("kind", M.KINDS)
@pytest.mark.parametrize("tree", sorted(TREES))
def test_one_mutation(baselines, tmp_path, tree, kind):
    base = baselines(tree)
    damaged, done, outside = mutate(base, tmp_path, [(kind, 0)])
    if not done:
        pytest.skip(f"no target for {kind} in {tree}")
    check_contract(base, damaged, done, outside)


@pytest.mark.parametrize(("tree", "kind", "target", "seed"), REGRESSIONS)
def test_regressions(baselines, tmp_path, tree, kind, target, seed):
    base = baselines(tree)
    damaged = tmp_path / "tree"
    outside = tmp_path / "outside"
    shutil.copytree(base.root, damaged, symlinks=True)
    assert (damaged / target).exists(), target
    mutation = M.Mutation(kind, target, seed, breaks_rule=True)
    M.apply(damaged, mutation, outside)
    check_contract(base, damaged, [mutation], outside)


COMBINED = [
    ("v0.7", [("truncate", 1), ("symlink_outside", 2), ("foreign_result", 1)]),
    ("v1.0", [("delete_folder", 3), ("binary", 4), ("foreign_result", 1)]),
    ("v0.5", [("unreadable", 2), ("foreign_result", 3)]),
    ("sample", [("empty", 5), ("scenario_case", 0), ("dir_symlink_loop", 1)]),
]


@pytest.mark.parametrize(("tree", "plan"), COMBINED, ids=[t for t, _ in COMBINED])
def test_a_few_mutations_at_once(baselines, tmp_path, tree, plan):
    base = baselines(tree)
    damaged, done, outside = mutate(base, tmp_path, plan)
    assert len(done) >= 2, [m.label() for m in done]
    check_contract(base, damaged, done, outside)


def test_cli_exit_codes_on_a_wrecked_tree(baselines, tmp_path):
    """Every kind of damage at once, through the command line in every format: exit 0 or 1, a
    report on stdout, no traceback; bad arguments remain exit 2."""
    base = baselines("v0.7")
    plan = [(kind, 7) for kind in M.KINDS]
    damaged, done, outside = mutate(base, tmp_path, plan, separate=False)
    assert len(done) >= len(M.KINDS) // 2
    runner = CliRunner()
    summary = tmp_path / "job-summary.md"
    for fmt in FORMATS:
        with deadline(HANG_SECONDS):
            result = runner.invoke(main, ["check", str(damaged), "--round", base.round, "--format", fmt,
                                          "--report", f"json={tmp_path / 'extra.json'}"],
                                   env={"GITHUB_STEP_SUMMARY": str(summary)})
        assert result.exception is None or isinstance(result.exception, SystemExit), (
            fmt, "".join(__import__("traceback").format_exception(result.exception)))
        assert result.exit_code in (0, 1), (fmt, result.exit_code, result.output[-2000:])
        assert result.output.strip(), fmt
        assert "Traceback" not in result.output
    bad = runner.invoke(main, ["check", str(damaged), "--round", "v9.9"])
    assert bad.exit_code == 2


# ------------------------------------------------------------------------------------------------
# The long run: `pytest -m slow tests/test_mutations.py` (seeds and combinations: the environment
# variables MLPERF_AUDIT_MUTATION_SEEDS and MLPERF_AUDIT_MUTATION_COMBOS)


@pytest.fixture
def long_run(request) -> None:
    """The long run is opt-in: its ~1000 cases take minutes, the normal suite has a CI budget."""
    if (request.config.option.markexpr or "").strip() in ("", "not slow"):
        pytest.skip("long mutation run: select it with -m slow")


def _slow_cases() -> list[tuple[str, str, int]]:
    seeds = range(int(os.environ.get("MLPERF_AUDIT_MUTATION_SEEDS", "6")))
    return [(tree, kind, seed) for tree in sorted({**TREES, **SLOW_TREES}) for kind in M.KINDS
            for seed in seeds]


@pytest.mark.slow
@pytest.mark.parametrize(("tree", "kind", "seed"), _slow_cases())
def test_many_seeds(long_run, baselines, tmp_path, tree, kind, seed):
    base = baselines(tree)
    damaged, done, outside = mutate(base, tmp_path, [(kind, 1000 + seed)])
    if not done:
        pytest.skip(f"no target for {kind} in {tree}")
    check_contract(base, damaged, done, outside)


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(int(os.environ.get("MLPERF_AUDIT_MUTATION_COMBOS", "20"))))
def test_many_combinations(long_run, baselines, tmp_path, seed):
    import random

    rng = random.Random(seed)
    tree = rng.choice(sorted({**TREES, **SLOW_TREES}))
    plan = [(rng.choice(M.KINDS), rng.randrange(10_000)) for _ in range(rng.randint(2, 4))]
    base = baselines(tree)
    damaged, done, outside = mutate(base, tmp_path, plan)
    if not done:
        pytest.skip("no target")
    check_contract(base, damaged, done, outside)
