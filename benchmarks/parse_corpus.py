"""Parse the whole extracted corpus, single-threaded, and compare with hashing the same files.

Usage: python benchmarks/parse_corpus.py [--repeat 3] [--rounds v0.5 v0.7 v1.0] [--kinds KIND ...]

For every file of a kind we parse (LoadGen summary and detail logs, accuracy logs, accuracy.txt,
conf files, system and measurements JSON, verification outputs) it measures, in the same run and on
the same files: (a) the time to SHA-256 each file, (b) the time to parse each file with our parsers.
Reports the median of ``--repeat`` passes of each and the ratio parse / hash (target: at most 4).
The files are read once before timing so both passes see a warm page cache.

The parse pass reads the files the way ``check`` does: through a content memo per submitter (a file
byte-identical to one already parsed in the same submitter's tree reuses that parse, as one
partition's parse cache does; see checker/parse/memo.py), with the garbage-collector settings the
CLI applies (checker/runtime.py), and with the parsers' cross-file caches emptied before each pass.
It takes them one submitter after another and, within a submitter, kind by kind (in path order
within a kind): the batch order of a corpus-wide parse. Check itself reads files mostly in runs of
one kind, as it runs rule after rule and a rule reads one kind of file for every result: checking
v0.5, v0.7 and v1.0 parses 816, 1,458 and 1,375 files, and 30%, 20% and 14% of those parses follow
one of another kind (243, 289 and 192 changes of kind). In path order, 85%, 82% and 69% of the same
parses would; in this benchmark's order, 4-5% of its parses do. The order matters: ``--order path``
takes each submitter's files in path order instead, and the parse pass is then 8-15% slower, most
likely because each parser's code and data leave the processor's caches between two files of its
kind.

``--plain`` calls every parser on every file with Python's default
collector instead, for comparison.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE.parent / "tests"))

import corpus_cache  # noqa: E402

from checker.parse.kinds import clear_caches, detect_kind, parser_for  # noqa: E402
from checker.parse.memo import ContentMemo  # noqa: E402
from checker.runtime import tune_for_batch  # noqa: E402


def corpus_files(rounds: list[str]) -> list[tuple[Path, str, Path]]:
    files = []
    for name in rounds:
        root = corpus_cache.corpus_root(name)
        for path in sorted(root.rglob("*")):
            if not path.is_file() or path.is_symlink() or "/code/" in path.as_posix():
                continue
            kind = detect_kind(path)
            if kind is None:
                continue
            if kind in ("system_json", "measurements_json") and path.suffix != ".json":
                continue
            files.append((path, kind, root))
    return files


def hash_pass(files: list[tuple[Path, str, Path]]) -> float:
    start = time.perf_counter()
    for path, _, _ in files:
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
        digest.hexdigest()
    return time.perf_counter() - start


def submitter_of(path: Path, root: Path) -> tuple[str, ...]:
    """(round, division, submitter): the unit ``check`` parses with one cache."""
    return (root.name, *os.fspath(path)[len(os.fspath(root)) + 1 :].split("/", 2)[:2])


def parse_pass(files: list[tuple[Path, str, Path]], plain: bool = False) -> tuple[float, int]:
    """Seconds to parse every file, and how many files reused an identical file's parse.

    As in ``check``, what one submitter's files gave is dropped before the next submitter's are
    read (the files are sorted, so a submitter's files come together)."""
    parsers = {}
    unit: tuple[str, ...] = ()
    memo = ContentMemo()
    reused = 0
    # Known before parsing in check too: the partition from discovery, the stat from the parse
    # cache's existence check (Evidence.parse stats the file before reading it).
    units = [submitter_of(path, root) for path, _, root in files]
    stats = [path.stat() for path, _, _ in files]
    clear_caches()  # every pass as cold as a fresh check process
    start = time.perf_counter()
    for (path, kind, root), here, info in zip(files, units, stats, strict=True):
        parser = parsers.get(kind) or parsers.setdefault(kind, parser_for(kind))
        if plain:
            parser(path, root=root)
            continue
        if here != unit:
            unit, reused, memo = here, reused + memo.reused, ContentMemo()
        memo.parse(kind, path, root, parser, info)
    return time.perf_counter() - start, reused + memo.reused


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--rounds", nargs="+", default=["v0.5", "v0.7", "v1.0"])
    parser.add_argument("--plain", action="store_true", help="every parser on every file, default GC")
    parser.add_argument("--order", choices=["kind", "path"], default="kind",
                        help="within a submitter: kind by kind (default), or in path order")
    parser.add_argument("--kinds", nargs="+", default=None,
                        help="only files of these kinds (e.g. loadgen_detail), to see where a parser change helps")
    args = parser.parse_args()
    if not args.plain:
        tune_for_batch()
    files = [f for f in corpus_files(args.rounds) if args.kinds is None or f[1] in args.kinds]
    if args.order == "kind":  # stable: path order within a kind
        files.sort(key=lambda file: (submitter_of(file[0], file[2]), file[1]))
    total_bytes = sum(path.stat().st_size for path, _, _ in files)
    kinds: dict[str, int] = {}
    for _, kind, _ in files:
        kinds[kind] = kinds.get(kind, 0) + 1
    hash_pass(files)  # warm the page cache
    hashes, parses = [], []
    for _ in range(args.repeat):
        hashes.append(hash_pass(files))
        seconds, reused = parse_pass(files, args.plain)
        parses.append(seconds)
    hash_median, parse_median = statistics.median(hashes), statistics.median(parses)
    print(f"files: {len(files)} ({total_bytes / 1e6:.1f} MB) in rounds {', '.join(args.rounds)}")
    print("by kind: " + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())))
    print(f"sha256 pass: median {hash_median:.3f} s over {args.repeat} ({', '.join(f'{t:.3f}' for t in hashes)})")
    print(f"parse pass:  median {parse_median:.3f} s over {args.repeat} ({', '.join(f'{t:.3f}' for t in parses)})")
    if not args.plain:
        print(f"  {reused} of {len(files)} files were byte-identical to a file of the same submitter parsed "
              f"before them and reused its parse; GC as the CLI sets it; each submitter's files in {args.order} order")
    paired = statistics.median(p / h for p, h in zip(parses, hashes, strict=True))
    print(f"ratio parse/sha256: {parse_median / hash_median:.2f} of the medians, {paired:.2f} median of the "
          "passes' own ratios (each parse pass timed right after its hash pass) "
          + ("(the target, <= 4, is for all kinds)" if args.kinds else "(target <= 4)"))
    # on a shared host the other tenants slow the parse down more than the hash (the interpreter
    # suffers more from a busy cache): the fastest passes show what the code costs undisturbed
    print(f"  fastest passes: sha256 {min(hashes):.3f} s, parse {min(parses):.3f} s, "
          f"ratio {min(parses) / min(hashes):.2f}")


if __name__ == "__main__":
    main()
