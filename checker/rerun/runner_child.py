"""The code that runs INSIDE the LoadGen subprocess: ``python -m checker.rerun.runner_child <spec.json>``.

LoadGen kills the whole process when a Python exception escapes a callback and hangs forever when
an issued sample is never completed, so this module runs in its own process under the parent's
timeout (:mod:`checker.rerun.harness`) and is written so that, for an honest run, neither can
happen: every callback is wrapped in ``try/except`` and every issued sample is completed, with
an empty (0-byte) response if producing the real one failed. The failure is recorded in
``run_info.json`` instead.

The ``raise_in_issue`` and ``hang`` behaviours deliberately break those guarantees, so that the
harness's crash and timeout handling can be tested against LoadGen's real failure modes.

Exit codes: 0 = StartTest returned and ``run_info.json`` was written; 1 = the harness itself
failed (bad spec, model not loadable, StartTest raised); anything else or a signal = the process
died (LoadGen abort, segfault).
"""

from __future__ import annotations

import json
import os
import queue
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path
from typing import Any

import numpy as np

from checker.rerun.inference import make_session, run_batch
from checker.rerun.settings import RUN_INFO_FILENAME, RunSpec, build_log_settings, build_test_settings

#: Keep at most this many exception records: a SUT failing on every sample must not write MBs.
MAX_EXCEPTIONS = 20
#: Record the list of distinct issued sample indices only up to this many (TEST04 audits need it).
MAX_INDEX_LIST = 4096


class SutState:
    """Counters and exception records shared by the callbacks, the workers and run_info.json."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.counts: dict[str, int] = {
            "issue_calls": 0,
            "samples_issued": 0,
            "samples_completed": 0,
            "empty_responses": 0,
            "inference_batches": 0,
            "samples_inferred": 0,
            "cache_hits": 0,
            "garbage_responses": 0,
            "corrupted_responses": 0,
            "flush_calls": 0,
            "load_calls": 0,
            "unload_calls": 0,
            "samples_loaded": 0,
        }
        self.distinct_indices: set[int] = set()
        self.load_set_sizes: list[int] = []
        self.exceptions: list[dict[str, str]] = []
        self.exception_count = 0
        self.first_issue: float | None = None
        self.last_complete: float | None = None

    def add(self, **increments: int) -> None:
        """Thread-safe counter update."""
        with self.lock:
            for key, value in increments.items():
                self.counts[key] += value

    def record_exception(self, where: str, exc: BaseException) -> None:
        """Keep the first few exceptions (type, message, traceback) for the report."""
        with self.lock:
            self.exception_count += 1
            if len(self.exceptions) < MAX_EXCEPTIONS:
                self.exceptions.append({
                    "where": where,
                    "type": type(exc).__name__,
                    "message": str(exc),
                    "traceback": "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))[-4000:],
                })


class OnnxSut:
    """Queue + worker-thread SUT answering every sample with its float32 logits row.

    ``issue`` only enqueues (LoadGen calls it from its issue thread with the GIL held and it must
    return quickly); workers run ONNX Runtime, which releases the GIL, and call
    ``QuerySamplesComplete`` with the addresses of rows of a C-contiguous array that stays alive
    until that call returns (LoadGen copies the bytes synchronously).
    """

    def __init__(self, spec: RunSpec, lg: Any, samples: np.ndarray, session: Any, state: SutState) -> None:
        self.spec = spec
        self.lg = lg
        self.samples = samples
        self.session = session
        self.state = state
        self.resident: dict[int, np.ndarray] = {}
        self.work: queue.Queue[list[Any] | None] = queue.Queue()
        self.workers: list[threading.Thread] = []
        # Offline's single issue call carries every sample; other scenarios issue one query
        # (1 sample, or samples_per_query in MultiStream) per call, answered as one batch.
        self.chunk = spec.batch_size if spec.scenario == "Offline" else None
        self.garbage = spec.sut_behaviour == "garbage_in_performance" and spec.mode == "PerformanceOnly"
        self.caching = spec.sut_behaviour == "cache_repeated"
        self.cache: dict[int, np.ndarray] = {}
        self.rng = np.random.default_rng(spec.behaviour_seed)
        self.empty = np.zeros(1, np.uint8)  # stable buffer for 0-byte error answers

        # Warm-up doubles as the probe of the output row size (needed for garbage answers).
        probe = run_batch(session, samples[0:1])
        self.classes = int(probe.shape[1])
        self.row_bytes = int(probe.strides[0])

        self.corrupt: frozenset[int] = frozenset()
        if spec.sut_behaviour == "corrupt_fraction":
            total = spec.total_sample_count or len(samples)
            count = round(spec.corrupt_fraction * total)
            chosen = np.random.default_rng(spec.behaviour_seed).choice(total, size=count, replace=False)
            self.corrupt = frozenset(int(i) for i in chosen)

    # --- QSL callbacks -----------------------------------------------------------------------
    def load(self, indices: list[int]) -> None:
        """Make samples resident. Never raises: an exception here would kill the process."""
        try:
            for index in indices:
                self.resident[index] = self.samples[index]
            self.state.add(load_calls=1, samples_loaded=len(indices))
            with self.state.lock:
                self.state.load_set_sizes.append(len(indices))
        except BaseException as exc:  # noqa: BLE001 - must not escape into LoadGen
            self.state.record_exception("load_samples", exc)

    def unload(self, indices: list[int]) -> None:
        """Drop samples. Never raises."""
        try:
            for index in indices:
                self.resident.pop(index, None)
            self.state.add(unload_calls=1)
        except BaseException as exc:  # noqa: BLE001
            self.state.record_exception("unload_samples", exc)

    # --- SUT callbacks -----------------------------------------------------------------------
    def issue(self, query_samples: list[Any]) -> None:
        """Enqueue the samples. Only the injected behaviours below may break the no-raise rule."""
        if self.spec.sut_behaviour == "raise_in_issue":
            # Deliberately outside the protection: reproduces LoadGen's real crash mode. The
            # process may die (SIGSEGV) while the exception unwinds through LoadGen, before any
            # Python handler runs, so announce it first: stderr is the only trace that survives.
            message = "injected failure in issue_query (sut_behaviour='raise_in_issue')"
            print(f"runner_child: {message}", file=sys.stderr, flush=True)
            raise RuntimeError(message)
        queued = 0
        try:
            now = time.perf_counter()
            with self.state.lock:
                if self.state.first_issue is None:
                    self.state.first_issue = now
                self.state.counts["issue_calls"] += 1
                self.state.counts["samples_issued"] += len(query_samples)
                self.state.distinct_indices.update(s.index for s in query_samples)
            if self.spec.sut_behaviour == "hang":
                return  # never completed: StartTest waits forever (the parent's timeout ends it)
            step = self.chunk or len(query_samples)
            for start in range(0, len(query_samples), step):
                self.work.put(query_samples[start:start + step])
                queued = start + step
        except BaseException as exc:  # noqa: BLE001
            self.state.record_exception("issue_query", exc)
            self._complete_empty(query_samples[queued:])

    def flush(self) -> None:
        """LoadGen calls this after the last issue; nothing is buffered here."""
        self.state.add(flush_calls=1)

    # --- workers -----------------------------------------------------------------------------
    def start(self) -> None:
        """Start the worker threads (daemon: a stuck worker must not keep the process alive)."""
        for number in range(self.spec.worker_threads):
            thread = threading.Thread(target=self._work_loop, name=f"sut-worker-{number}", daemon=True)
            thread.start()
            self.workers.append(thread)

    def stop(self, timeout_s: float = 10.0) -> None:
        """Ask the workers to finish and wait a bounded time for them."""
        for _ in self.workers:
            self.work.put(None)
        for thread in self.workers:
            thread.join(timeout_s)

    def _work_loop(self) -> None:
        while True:
            batch = self.work.get()
            if batch is None:
                return
            self._respond(batch)

    def _outputs(self, indices: list[int]) -> np.ndarray:
        """The rows to return for ``indices``, according to the SUT behaviour."""
        if self.garbage:
            self.state.add(garbage_responses=len(indices))
            return self.rng.integers(0, 256, size=(len(indices), self.row_bytes), dtype=np.uint8)
        if self.caching:
            with self.state.lock:
                missing = [i for i in dict.fromkeys(indices) if i not in self.cache]
            if missing:
                fresh = run_batch(self.session, np.stack([self.resident[i] for i in missing]))
                self.state.add(inference_batches=1, samples_inferred=len(missing))
                with self.state.lock:
                    for k, index in enumerate(missing):
                        self.cache[index] = fresh[k].copy()
            self.state.add(cache_hits=len(indices) - len(missing))
            with self.state.lock:
                out = np.stack([self.cache[i] for i in indices])
        else:
            out = run_batch(self.session, np.stack([self.resident[i] for i in indices]))
            self.state.add(inference_batches=1, samples_inferred=len(indices))
        if self.corrupt:
            hits = [k for k, index in enumerate(indices) if index in self.corrupt]
            for k in hits:
                out[k] = np.roll(out[k], 1)
            if hits:
                self.state.add(corrupted_responses=len(hits))
        return np.ascontiguousarray(out)

    def _respond(self, batch: list[Any]) -> None:
        """Answer one batch; on any failure answer it with empty responses instead (never hang)."""
        completed = False
        try:
            out = self._outputs([s.index for s in batch])
            row = out.strides[0]
            base = out.ctypes.data
            responses = [self.lg.QuerySampleResponse(s.id, base + k * row, row) for k, s in enumerate(batch)]
            self.lg.QuerySamplesComplete(responses)  # copies the bytes; `out` is alive until it returns
            completed = True
            now = time.perf_counter()
            with self.state.lock:
                self.state.counts["samples_completed"] += len(batch)
                self.state.last_complete = now
        except BaseException as exc:  # noqa: BLE001
            self.state.record_exception("worker", exc)
            if not completed:
                self._complete_empty(batch)

    def _complete_empty(self, batch: list[Any]) -> None:
        """Complete samples with 0-byte responses so LoadGen never waits on them."""
        if not batch:
            return
        try:
            responses = [self.lg.QuerySampleResponse(s.id, self.empty.ctypes.data, 0) for s in batch]
            self.lg.QuerySamplesComplete(responses)
            now = time.perf_counter()
            with self.state.lock:
                self.state.counts["samples_completed"] += len(batch)
                self.state.counts["empty_responses"] += len(batch)
                self.state.last_complete = now
        except BaseException as exc:  # noqa: BLE001
            self.state.record_exception("complete_empty", exc)


def _write_json_atomic(path: Path, payload: dict[str, Any]) -> None:
    """Write JSON via a temp file + rename so a reader never sees half a file."""
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(payload, handle, indent=2, sort_keys=True)
        handle.write("\n")
    os.replace(tmp_name, path)


def run(spec_path: Path) -> int:
    """Run the test described by ``spec_path``; write run_info.json; return the exit code."""
    started = time.perf_counter()
    info: dict[str, Any] = {"status": "starting", "pid": os.getpid(), "spec_path": str(spec_path)}
    info_path = spec_path.parent / RUN_INFO_FILENAME
    state = SutState()
    exit_code = 1
    try:
        spec, explicit = RunSpec.from_child_json(spec_path.read_text(encoding="utf-8"))
        info_path = spec.output_dir / RUN_INFO_FILENAME
        info.update(scenario=spec.scenario, mode=spec.mode, sut_behaviour=spec.sut_behaviour)

        import mlperf_loadgen as lg

        samples = np.ascontiguousarray(np.load(spec.samples_path, allow_pickle=False), dtype=np.float32)
        total = spec.total_sample_count or len(samples)
        if total > len(samples):
            raise ValueError(f"total_sample_count {total} > {len(samples)} samples in {spec.samples_path}")
        performance_count = spec.performance_sample_count or total
        session = make_session(spec.model_path, intra_op_threads=spec.intra_op_threads)
        sut = OnnxSut(spec, lg, samples, session, state)
        settings, fromconfig_rcs = build_test_settings(spec, lg, explicit_fields=explicit)
        log_settings = build_log_settings(spec, lg)
        spec.output_dir.mkdir(parents=True, exist_ok=True)  # a missing outdir aborts the process
        info.update(
            loadgen_version=getattr(lg, "__version__", None),
            total_sample_count=total,
            performance_sample_count=performance_count,
            fromconfig_rcs=fromconfig_rcs,
            audit_config_argument=spec.audit_config_argument(),
            output_classes=sut.classes,
            response_bytes=sut.row_bytes,
            corrupted_indices=sorted(sut.corrupt),
            setup_s=round(time.perf_counter() - started, 6),
        )

        sut.start()
        sut_handle = lg.ConstructSUT(sut.issue, sut.flush)
        qsl_handle = lg.ConstructQSL(total, performance_count, sut.load, sut.unload)
        info["status"] = "running"
        # Provisional record: if the parent has to kill a hung run, this still tells it the child
        # got as far as StartTest (and with which settings).
        _write_json_atomic(info_path, {**info, "wall_s": round(time.perf_counter() - started, 6)})
        test_start = time.perf_counter()
        try:
            lg.StartTestWithLogSettings(sut_handle, qsl_handle, settings, log_settings,
                                        spec.audit_config_argument())
        finally:
            test_end = time.perf_counter()
            info["start_test_s"] = round(test_end - test_start, 6)
            if state.first_issue is not None:
                info["setup_to_first_issue_s"] = round(state.first_issue - test_start, 6)
            if state.first_issue is not None and state.last_complete is not None:
                info["sut_active_s"] = round(state.last_complete - state.first_issue, 6)
        sut.stop()
        lg.DestroyQSL(qsl_handle)
        lg.DestroySUT(sut_handle)
        info["status"] = "completed"
        exit_code = 0
    except BaseException as exc:  # noqa: BLE001 - reported through run_info.json and the exit code
        info["status"] = "error"
        state.record_exception("runner", exc)
    finally:
        with state.lock:
            info["counts"] = dict(state.counts)
            info["distinct_indices_issued"] = len(state.distinct_indices)
            if len(state.distinct_indices) <= MAX_INDEX_LIST:
                info["distinct_index_list"] = sorted(state.distinct_indices)
            info["load_set_sizes"] = list(state.load_set_sizes)
            info["exceptions"] = list(state.exceptions)
            info["exception_count"] = state.exception_count
        info["wall_s"] = round(time.perf_counter() - started, 6)
        try:
            _write_json_atomic(info_path, info)
        except OSError as exc:
            print(f"runner_child: cannot write {info_path}: {exc}", file=sys.stderr)
    if info["status"] == "error":
        for record in info["exceptions"]:
            if record["where"] == "runner":
                print(record["traceback"], file=sys.stderr)
    return exit_code


def main(argv: list[str] | None = None) -> int:
    """Entry point: exactly one argument, the spec JSON written by the harness."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m checker.rerun.runner_child <run_spec.json>", file=sys.stderr)
        return 2
    return run(Path(args[0]).resolve())


if __name__ == "__main__":
    sys.exit(main())
