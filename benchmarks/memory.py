"""Peak memory of `mlperf-audit check` on a result with a huge detail log and a huge accuracy log.

Usage: python benchmarks/memory.py [--detail-mb 1024] [--accuracy-mb 2048] [--limit-mb 300]
                                   [--payload-bytes 16384] [--workdir DIR] [--keep]

Why: detail and accuracy logs reach hundreds of MB to GB (LLM, segmentation and detection
benchmarks), and a checker that holds a file in memory fails on exactly the submissions a
reviewer most needs checked. The design brief asks for streaming parsers that keep only what the
checks need; this script proves it end to end, through every rule that reads the two files.

What it does: copies the bundled sample submission (one system, the sample round) into a
temporary folder, keeps its Offline result with its measurements and compliance runs, and
replaces

* ``performance/run_1/mlperf_log_detail.txt`` with a log of ``--detail-mb`` MB: the original records,
  then LoadGen-shaped ``:::MLLOG`` records (messages, warnings, errors, and 20 000 distinct keys with
  1 kB values, the most the parser keeps) until the size is reached; with ``--hostile``, records made
  to be kept instead (every one a new key with a 256 kB value or a 30 000-integer list);
* ``accuracy/mlperf_log_accuracy.json`` with a log of ``--accuracy-mb`` MB in LoadGen's layout, entries
  of ``--payload-bytes`` bytes each (hex in the file, so each entry takes twice that);

then runs ``mlperf-audit check TREE --round sample --format json`` in a fresh process and reads its
peak resident set size: ``ru_maxrss`` from ``os.wait4``, and the process's own ``VmHWM`` (see
:func:`peak_rss_of` for why both; the limit applies to the latter). The generated files are written
in 8 MB blocks and deleted afterwards (``--keep`` keeps them). Prints one JSON object; exits 1 when
the peak exceeds ``--limit-mb`` or the check did not exit 0/1.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "reference_runs" / "sample_submission"
SUBMITTER = "closed/mlperf-audit-demo"
SYSTEM, BENCHMARK, SCENARIO = "demo_cpu", "digits", "Offline"
BLOCK = 8 * 1024 * 1024


def minimal_tree(dest: Path) -> Path:
    """The sample submission cut down to one result (its results, measurements and compliance folders)."""
    source = SAMPLE / SUBMITTER
    target = dest / SUBMITTER
    for part in ("results", "measurements", "compliance"):
        folder = source / part / SYSTEM / BENCHMARK / SCENARIO
        if folder.is_dir():
            shutil.copytree(folder, target / part / SYSTEM / BENCHMARK / SCENARIO)
    shutil.copytree(source / "systems", target / "systems")
    if (source / "code").is_dir():
        shutil.copytree(source / "code", target / "code")
    return target / "results" / SYSTEM / BENCHMARK / SCENARIO


def _mllog(key: str, value: object, error: bool = False, warning: bool = False) -> str:
    record = {"key": key, "value": value, "time_ms": 1234.5, "namespace": "mlperf::logging",
              "event_type": "POINT_IN_TIME",
              "metadata": {"is_error": error, "is_warning": warning, "file": "loadgen.cc", "line_no": 99,
                           "pid": 1, "tid": 2}}
    return ":::MLLOG " + json.dumps(record) + "\n"


def write_detail(path: Path, size: int, hostile: bool = False) -> int:
    """The original log, then filler records up to ``size`` bytes; returns the bytes written.

    ``hostile``: the filler is made to be kept: every record a new key with a 256 kB string or a
    list of 30 000 integers, or an error with a 256 kB message (a log no LoadGen writes, but a tree
    may hold)."""
    original = path.read_text(encoding="utf-8")
    lines = original.splitlines(keepends=True)
    distinct = "".join(_mllog(f"custom_key_{i:05d}", "v" * 1000) for i in range(20_000))
    pattern = "".join(
        _mllog("generic_message", f"query {i} issued, sample {i * 7} completed after {i % 977} us")
        for i in range(2000)
    ) + _mllog("warning_generic_message", "a warning LoadGen logs", warning=True) + \
        _mllog("error_runtime", "an error LoadGen logs", error=True)
    if hostile:
        counter = iter(range(10**9))
        numbers = list(range(30_000))

        def pattern_of() -> str:
            i = next(counter)
            return (_mllog(f"hostile_string_{i}", "s" * 256_000) + _mllog(f"hostile_list_{i}", numbers)
                    + _mllog("error_runtime", "e" * 256_000, error=True))
    written = 0
    with open(path, "w", encoding="utf-8") as out:
        out.write("".join(lines[:-1]))
        written += sum(len(x.encode()) for x in lines[:-1])
        out.write(distinct)
        written += len(distinct)
        block = pattern * max(1, BLOCK // len(pattern))
        while written + len(block) < size - 1000:
            if hostile:
                block = pattern_of()
            out.write(block)
            written += len(block)
        while written < size - 1000:
            out.write(pattern[:4096].rsplit("\n", 1)[0] + "\n")
            written += len(pattern[:4096].rsplit("\n", 1)[0]) + 1
        out.write(lines[-1])
        written += len(lines[-1].encode())
    return written


def write_accuracy(path: Path, size: int, payload_bytes: int) -> int:
    """A LoadGen-layout accuracy log of about ``size`` bytes; returns the bytes written."""
    payload = (bytes(range(256)) * (payload_bytes // 256 + 1))[:payload_bytes].hex().upper()
    written = 0
    seq = 0
    with open(path, "w", encoding="ascii") as out:
        out.write("[\n")
        written += 2
        parts: list[str] = []
        pending = 0
        while written + pending < size - 200:
            entry = f'{{ "seq_id" : {seq}, "qsl_idx" : {seq}, "data" : "{payload}" }},\n'
            parts.append(entry)
            pending += len(entry)
            seq += 1
            if pending >= BLOCK:
                out.write("".join(parts))
                written += pending
                parts, pending = [], 0
        last = f'{{ "seq_id" : {seq}, "qsl_idx" : {seq}, "data" : "{payload}" }}\n]\n'
        out.write("".join(parts) + last)
        written += pending + len(last)
    return written


#: Runs the CLI and, at exit, prints the process's own high-water mark (VmHWM) to stderr.
_WRAPPER = """
import atexit, sys
def _hwm():
    try:
        with open('/proc/self/status') as status:
            for line in status:
                if line.startswith('VmHWM:'):
                    sys.stderr.write('VMHWM_KB ' + line.split()[1] + '\\n')
    except OSError:
        pass
atexit.register(_hwm)
sys.argv = ['mlperf-audit', *sys.argv[1:]]
from checker.cli import main
main()
"""


def peak_rss_of(arguments: list[str], stdout: Path) -> tuple[int, float, float | None, float]:
    """Run ``mlperf-audit ARGUMENTS`` (stdout to a file): exit code, ``ru_maxrss`` from ``os.wait4`` (MB),
    the process's own ``VmHWM`` (MB, None without /proc) and seconds.

    Why both: Linux carries a forked child's high-water mark over its ``exec``, so ``ru_maxrss`` of a
    process started from a large parent (a test runner holding parsed corpora) is at least the
    parent's size at the fork. ``VmHWM`` belongs to the memory of the exec'd program alone. Run from
    this script (a small parent) the two agree; the limit is checked on ``VmHWM`` when it is known.
    """
    started = time.perf_counter()
    command = [sys.executable, "-c", _WRAPPER, *arguments]
    with open(stdout, "wb") as sink:
        process = subprocess.Popen(command, stdout=sink, stderr=subprocess.PIPE, cwd=REPO)  # noqa: S603
        assert process.stderr is not None
        errors = process.stderr.read()
        _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    hwm = None
    for line in errors.decode(errors="replace").splitlines():
        if line.startswith("VMHWM_KB "):
            hwm = int(line.split()[1]) / 1024
    if b"Traceback" in errors:
        sys.stderr.write(errors.decode(errors="replace")[-3000:])
    return process.returncode, usage.ru_maxrss / 1024, hwm, time.perf_counter() - started


def measure(detail_mb: float, accuracy_mb: float, payload_bytes: int = 16384, workdir: Path | None = None,
            keep: bool = False, hostile: bool = False) -> dict[str, object]:
    """Generate the tree, check it in a fresh process, return the figures (see the module doc)."""
    folder = Path(tempfile.mkdtemp(prefix="mlperf-audit-memory-", dir=workdir))
    try:
        result = minimal_tree(folder / "tree")
        detail = result / "performance" / "run_1" / "mlperf_log_detail.txt"
        accuracy = result / "accuracy" / "mlperf_log_accuracy.json"
        started = time.perf_counter()
        detail_bytes = write_detail(detail, int(detail_mb * 1024 * 1024), hostile) if detail_mb \
            else detail.stat().st_size
        accuracy_bytes = write_accuracy(accuracy, int(accuracy_mb * 1024 * 1024), payload_bytes) \
            if accuracy_mb else accuracy.stat().st_size
        generated = time.perf_counter() - started
        arguments = ["check", str(folder / "tree"), "--round", "sample", "--format", "json", "--no-job-summary"]
        code, maxrss, hwm, seconds = peak_rss_of(arguments, folder / "report.json")
        try:
            report = json.loads((folder / "report.json").read_text(encoding="utf-8"))
            summary = report.get("summary")
        except ValueError:
            summary = None
        return {"detail_bytes": detail_bytes, "accuracy_bytes": accuracy_bytes, "payload_bytes": payload_bytes,
                "exit_code": code, "peak_rss_mb": round(hwm if hwm is not None else maxrss, 1),
                "ru_maxrss_mb": round(maxrss, 1), "check_seconds": round(seconds, 1),
                "generate_seconds": round(generated, 1), "summary": summary,
                "tree": str(folder) if keep else None}
    finally:
        if not keep:
            shutil.rmtree(folder, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--detail-mb", type=float, default=1024)
    parser.add_argument("--accuracy-mb", type=float, default=2048)
    parser.add_argument("--payload-bytes", type=int, default=16384)
    parser.add_argument("--limit-mb", type=float, default=300)
    parser.add_argument("--workdir", type=Path, help="where the temporary tree goes (default: the system temp)")
    parser.add_argument("--keep", action="store_true", help="keep the generated tree and print its folder")
    parser.add_argument("--hostile", action="store_true",
                        help="fill the detail log with records made to be kept (large values, new keys)")
    args = parser.parse_args(argv)
    figures = measure(args.detail_mb, args.accuracy_mb, args.payload_bytes, args.workdir, args.keep, args.hostile)
    figures["limit_mb"] = args.limit_mb
    print(json.dumps(figures, indent=2))
    ok = figures["exit_code"] in (0, 1) and float(figures["peak_rss_mb"]) <= args.limit_mb  # type: ignore[arg-type]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
