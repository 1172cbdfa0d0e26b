"""Time `mlperf-audit check` over each extracted corpus round: results per second and peak memory.

Usage: python benchmarks/check_corpus.py [--repeat 3] [--rounds v0.5 v0.7 v1.0]

Each run is a fresh process (`python -m checker.cli check <round> --round <round> --format json`),
timed with its own resource usage (os.wait4), so the peak RSS is that of the check alone. Medians
over ``--repeat`` runs; a SHA-256 pass over the same tree's files is measured in the same run as a
baseline for this machine (ratio check / sha256).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
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


def timed_check(root: Path, round_name: str, extra: list[str]) -> tuple[float, float, dict]:
    command = [sys.executable, "-m", "checker.cli", "check", str(root), "--round", round_name, "--format", "json", *extra]
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=HERE.parent)
    output = process.stdout.read() if process.stdout else b""
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) not in (0, 1):
        raise SystemExit(f"check failed on {root} with status {status}")
    return elapsed, usage.ru_maxrss / 1024, json.loads(output)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--rounds", nargs="+", default=["v0.5", "v0.7", "v1.0"])
    parser.add_argument("extra", nargs="*", help="extra arguments for check (after --)")
    args = parser.parse_args()
    print(f"{'round':<6} {'results':>7} {'files':>6} {'MB':>7} {'check s':>8} {'results/s':>9} "
          f"{'peak MB':>8} {'sha256 s':>8} {'ratio':>6}")
    for round_name in args.rounds:
        root = corpus_cache.corpus_root(round_name)
        sha256_tree(root)  # warm the page cache
        times, peaks, hashes = [], [], []
        document: dict = {}
        for _ in range(args.repeat):
            elapsed, peak, document = timed_check(root, round_name, args.extra)
            times.append(elapsed)
            peaks.append(peak)
            hashed, files, size = sha256_tree(root)
            hashes.append(hashed)
        results = document["summary"]["results"]
        check_s, hash_s = statistics.median(times), statistics.median(hashes)
        print(f"{round_name:<6} {results:>7} {files:>6} {size / 1e6:>7.1f} {check_s:>8.2f} {results / check_s:>9.1f} "
              f"{max(peaks):>8.0f} {hash_s:>8.2f} {check_s / hash_s:>6.1f}")


if __name__ == "__main__":
    main()
