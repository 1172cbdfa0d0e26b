"""Time `mlperf-audit check` over each extracted corpus round: speed, memory, cache, scaling.

Usage: python benchmarks/check_corpus.py [--repeat 1] [--rounds v0.5 v0.7 v1.0 v4.1] [--scale-round v1.0]
                                         [--scale 1 2 4 16]
                                         [-- extra check arguments]

Each run is a fresh process (`python -m checker.cli check <tree> --round <round> --format json`),
timed with its own resource usage (os.wait4), so the peak RSS is that of the check alone (with
``--jobs 2``: the largest of the main process and its workers, whichever peaked highest). Per round:

* ``--jobs 1`` and ``--jobs 2`` without a cache, then with ``--cache`` cold (empty folder, filled by
  the run; measured once), warm (unchanged tree) and warm after one changed file (on a linked copy of
  the round, the changed file replaced, never edited through the link; each run after its own change);
* results/s and MB/s (the bytes of every file of the tree), and the ratio to a plain SHA-256 pass over
  the same files measured in the same run (target: ``--jobs 2`` within 3x; warm+1 under 10% of cold);
* for ``--scale-round``: 1x, 2x, 4x and 16x copies of the round (hard links, the submitter folders
  renamed ``<name>-copyN``) checked with ``--jobs 2``, to show time linear in the number of results
  and a flat peak RSS, with the least-squares line through them (the fixed cost of a run and the
  time each result adds, for the check and the SHA-256 pass); the largest copy (v1.0 x16: 62K files,
  1.8 GB, 1,392 results, the size of the v1.0 results repository the issue describes) also cold, warm
  and warm+1 with a cache.

Medians over ``--repeat`` runs.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

import corpus_cache  # noqa: E402


def sha256_tree(root: Path) -> tuple[float, int, int]:
    start = time.perf_counter()
    count = size = 0
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.is_symlink():
            digest = hashlib.sha256()
            with open(path, "rb") as handle:
                while chunk := handle.read(1 << 20):
                    digest.update(chunk)
                    size += len(chunk)
            count += 1
    return time.perf_counter() - start, count, size


#: The checked processes' environment: Python may cache bytecode (in a folder of its own), as an
#: installed mlperf-audit has it (pip compiles it at install). Without this, a source checkout under
#: PYTHONDONTWRITEBYTECODE=1 (this machine's default) compiles every checker module on every run.
CHECK_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def timed_check(root: Path, round_name: str, extra: list[str]) -> tuple[float, float, dict]:
    command = [sys.executable, "-m", "checker.cli", "check", str(root), "--round", round_name, "--format", "json",
               "--no-job-summary", *extra]
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=HERE.parent,
                               env=CHECK_ENV)
    output = process.stdout.read() if process.stdout else b""
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) not in (0, 1):
        raise SystemExit(f"check failed on {root} with status {status}")
    return elapsed, usage.ru_maxrss / 1024, json.loads(output)


def linked_copy(source: Path, target: Path, copies: int) -> None:
    """``copies`` copies of every submitter folder of ``source`` under ``target`` (hard links)."""
    def link(src: str, dst: str) -> None:
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)

    for entry in source.iterdir():
        if entry.is_dir() and entry.name in ("closed", "open", "network"):
            for submitter in entry.iterdir():
                for number in range(copies):
                    name = submitter.name if number == 0 else f"{submitter.name}-copy{number}"
                    if submitter.is_dir():
                        shutil.copytree(submitter, target / entry.name / name, copy_function=link, symlinks=True)
                    elif number == 0:
                        (target / entry.name).mkdir(parents=True, exist_ok=True)
                        link(str(submitter), str(target / entry.name / name))
        elif entry.is_dir():
            shutil.copytree(entry, target / entry.name, copy_function=link, symlinks=True)
        else:
            link(str(entry), str(target / entry.name))


class OneChangedFile:
    """The first performance summary of a tree, changed before each warm+1 run: replaced (never edited
    through a link) by a one-byte-longer file, then by its original bytes, and so on, so that each run
    sees exactly one file changed since the run before it."""

    def __init__(self, root: Path) -> None:
        self.path = sorted(root.glob("*/*/results/*/*/*/performance/run_1/mlperf_log_summary.txt"))[0]
        self.original = self.path.read_bytes()
        self.longer = False

    def toggle(self) -> None:
        self.longer = not self.longer
        self.path.unlink()
        self.path.write_bytes(self.original + b"\n" if self.longer else self.original)


class Table:
    def __init__(self) -> None:
        print(f"{'round':<10} {'jobs':>4} {'cache':<7} {'results':>7} {'files':>6} {'MB':>7} {'check s':>8} "
              f"{'results/s':>9} {'MB/s':>7} {'peak MB':>8} {'sha256 s':>8} {'ratio':>6}", flush=True)

    def row(self, label: str, jobs: int, cache: str, results: int, files: int, size: int, seconds: float,
            peak: float, hashed: float) -> None:
        print(f"{label:<10} {jobs:>4} {cache:<7} {results:>7} {files:>6} {size / 1e6:>7.1f} {seconds:>8.2f} "
              f"{results / seconds:>9.1f} {size / 1e6 / seconds:>7.1f} {peak:>8.0f} {hashed:>8.2f} "
              f"{seconds / hashed:>6.2f}", flush=True)


def measure(root: Path, round_name: str, extra: list[str], repeat: int) -> tuple[float, float, int, float, int, int]:
    times, peaks, hashes = [], [], []
    document: dict = {}
    files = size = 0
    for _ in range(repeat):
        elapsed, peak, document = timed_check(root, round_name, extra)
        times.append(elapsed)
        peaks.append(peak)
        hashed, files, size = sha256_tree(root)
        hashes.append(hashed)
    return (statistics.median(times), max(peaks), document["summary"]["results"], statistics.median(hashes),
            files, size)


def cache_runs(table: Table, tree: Path, round_name: str, flags: list[str], label: str, hashed: float,
               uncached: float, repeat: int) -> None:
    """``check --cache`` cold (empty folder; once, as a run fills it), warm (unchanged tree) and warm
    after one changed file (each of the ``repeat`` runs after its own change, see :class:`OneChangedFile`)."""
    jobs = int(flags[flags.index("--jobs") + 1])
    cold, peak, results, _, files, size = measure(tree, round_name, flags, 1)
    table.row(label, jobs, "cold", results, files, size, cold, peak, hashed)
    warm = measure(tree, round_name, flags, repeat)
    changing = OneChangedFile(tree)
    runs = []
    for _ in range(repeat):
        changing.toggle()
        runs.append(measure(tree, round_name, flags, 1))
    changed = (statistics.median(run[0] for run in runs), max(run[1] for run in runs), *runs[-1][2:])
    for run, (seconds, peak, results, _, files, size) in (("warm", warm), ("warm+1", changed)):
        table.row(label, jobs, run, results, files, size, seconds, peak, hashed)
        print(f"{'':<10}   {100 * seconds / cold:.1f}% of the cold-cache run, "
              f"{100 * seconds / uncached:.1f}% of the run without a cache", flush=True)


def print_fit(label: str, points: list[tuple[int, float, float]]) -> None:
    """The least-squares line through the scaled copies' times, for ``check --jobs 2`` and for the
    SHA-256 pass: what a run costs whatever the tree's size (the intercept: start-up, imports, worker
    processes getting ready, the report) and what each result adds (the slope), so that the ratio of
    a small tree can be told apart from the ratio the checks themselves reach."""
    if len(points) < 2 or len({results for results, _, _ in points}) < 2:
        return
    results = [float(count) for count, _, _ in points]
    check = statistics.linear_regression(results, [seconds for _, seconds, _ in points])
    sha = statistics.linear_regression(results, [hashed for _, _, hashed in points])
    print(f"{label} copies, least-squares fit: check --jobs 2 = {check.intercept:.2f} s + "
          f"{1000 * check.slope:.2f} ms x results; SHA-256 = {sha.intercept:.2f} s + {1000 * sha.slope:.2f} ms x "
          f"results; per result, the check takes {check.slope / sha.slope:.2f}x the SHA-256 pass's time",
          flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--rounds", nargs="*", default=["v0.5", "v0.7", "v1.0", "v4.1"],
                        help="corpus rounds checked one by one (none: only the scaled copies)")
    parser.add_argument("--scale-round", default="v1.0", help="round copied --scale times ('' to skip)")
    parser.add_argument("--scale", type=int, nargs="+", default=[1, 2, 4, 16],
                        help="copies of --scale-round; the largest is also run cold/warm/warm+1 with a cache "
                             "(16 copies of v1.0: 62K files, 1.8 GB, the size of the v1.0 results repository)")
    parser.add_argument("extra", nargs="*", help="extra arguments for check (after --)")
    args = parser.parse_args()
    table = Table()
    with tempfile.TemporaryDirectory(prefix="check-corpus-") as scratch_name:
        scratch = Path(scratch_name)
        CHECK_ENV["PYTHONPYCACHEPREFIX"] = str(scratch / "bytecode")
        timed_check(HERE.parent / "reference_runs" / "sample_submission", "sample", [])  # compiles it once
        print("(checked processes cache their bytecode, as an installed tool has it; "
              "one untimed run compiled it)", flush=True)
        for round_name in args.rounds:
            root = corpus_cache.corpus_root(round_name)
            sha256_tree(root)  # warm the page cache
            for jobs in (1, 2):
                flags = [*args.extra, "--jobs", str(jobs)]
                seconds, peak, results, hashed, files, size = measure(root, round_name, flags, args.repeat)
                table.row(round_name, jobs, "none", results, files, size, seconds, peak, hashed)
                copy = scratch / f"{round_name}-j{jobs}"
                linked_copy(root, copy, 1)
                cache = scratch / f"cache-{round_name}-j{jobs}"
                cache_runs(table, copy, round_name, [*flags, "--cache", str(cache)], round_name, hashed, seconds,
                           args.repeat)
                shutil.rmtree(copy)
                shutil.rmtree(cache, ignore_errors=True)
        if args.scale_round:
            root = corpus_cache.corpus_root(args.scale_round)
            base = None
            points: list[tuple[int, float, float]] = []
            for copies in sorted(args.scale):
                tree = scratch / f"scale-{copies}"
                label = f"{args.scale_round}x{copies}"
                linked_copy(root, tree, copies)
                sha256_tree(tree)
                flags = [*args.extra, "--jobs", "2"]
                seconds, peak, results, hashed, files, size = measure(tree, args.scale_round, flags, args.repeat)
                table.row(label, 2, "none", results, files, size, seconds, peak, hashed)
                base = base or seconds / results
                points.append((results, seconds, hashed))
                print(f"{'':<10}   {1000 * seconds / results:.1f} ms per result "
                      f"({seconds / results / base:.2f}x the first copy's)", flush=True)
                if copies == max(args.scale):
                    cache_runs(table, tree, args.scale_round, [*flags, "--cache", str(scratch / f"cache-{label}")],
                               label, hashed, seconds, args.repeat)
                shutil.rmtree(tree)
            print_fit(args.scale_round, points)


if __name__ == "__main__":
    main()
