"""Run LoadGen tests in supervised subprocesses and turn every failure into data.

:func:`run_loadgen` is the only way the rest of mlperf-audit starts LoadGen. Each test gets a
fresh Python process (LoadGen's ``FromConfig`` keeps process-global state, a callback exception
kills the process, a lost sample hangs it), run with ``cwd`` = the test's working directory, an
explicit audit.config argument and a wall-clock timeout. Whatever happens to the child, the
caller receives a :class:`RunOutcome`; a failing SUT is a result to report, never an exception.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

import checker
from checker.rerun.settings import (
    AUDIT_CONFIG_FILENAME,
    RUN_INFO_FILENAME,
    SPEC_FILENAME,
    RunSpec,
)

#: Characters of the child's stdout/stderr kept in the outcome (the end is where errors are).
TAIL_CHARS = 4000

LOG_KINDS = ("summary", "detail", "accuracy", "trace")


class RunOutcome(BaseModel):
    """What happened to one LoadGen test; built for every run, successful or not."""

    model_config = ConfigDict(frozen=True)

    spec: RunSpec
    ok: bool = Field(description="exit 0, no timeout, summary and detail logs written")
    returncode: int | None = Field(description="child exit status; negative = killed by a signal; None = not started")
    signal_name: str | None = Field(None, description="e.g. SIGSEGV, SIGABRT, SIGKILL (after a timeout)")
    timed_out: bool = False
    wall_s: float = Field(description="parent-side wall time of the subprocess")
    failure: str | None = Field(None, description="one-line reason when not ok")
    stderr_tail: str = ""
    stdout_tail: str = ""
    output_dir: Path
    files: dict[str, Path] = Field(default_factory=dict, description="produced files by kind (only existing ones)")
    run_info: dict[str, Any] | None = Field(None, description="the child's run_info.json, when written")

    @property
    def summary_path(self) -> Path | None:
        return self.files.get("summary")

    @property
    def detail_path(self) -> Path | None:
        return self.files.get("detail")

    @property
    def accuracy_path(self) -> Path | None:
        return self.files.get("accuracy")


def _signal_name(returncode: int | None) -> str | None:
    """``SIGSEGV`` for -11 etc.; None for a normal exit."""
    if returncode is None or returncode >= 0:
        return None
    try:
        return signal.Signals(-returncode).name
    except ValueError:
        return f"signal {-returncode}"


def _tail(text: str | bytes | None) -> str:
    if text is None:
        return ""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    return text[-TAIL_CHARS:]


def _child_env() -> dict[str, str]:
    """Environment for the child: the package importable, cwd not on sys.path.

    PYTHONSAFEPATH (3.11+) stops ``python -m`` from putting the test's working directory first
    on sys.path, where a stray ``numpy.py`` in an output folder would shadow the real module.
    """
    env = dict(os.environ)
    package_root = str(Path(checker.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH", "")) if p)
    env["PYTHONSAFEPATH"] = "1"
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def prepare_workdir(spec: RunSpec) -> Path:
    """Create the working dir, remove stale outputs of an earlier run, place audit.config and the spec.

    Stale LoadGen logs are removed so that a crashed run can never be mistaken for the previous
    successful one. A foreign ``audit.config`` already present is left alone (it is not ours to
    delete, and LoadGen is told explicitly not to read it) unless this spec brings its own.
    """
    spec.output_dir.mkdir(parents=True, exist_ok=True)
    for kind in LOG_KINDS:
        spec.log_file(kind).unlink(missing_ok=True)
    (spec.output_dir / RUN_INFO_FILENAME).unlink(missing_ok=True)
    if spec.audit_config is not None:
        target = spec.output_dir / AUDIT_CONFIG_FILENAME
        if spec.audit_config.resolve() != target.resolve():
            shutil.copyfile(spec.audit_config, target)
    spec_path = spec.output_dir / SPEC_FILENAME
    spec_path.write_text(spec.to_child_json() + "\n", encoding="utf-8")
    return spec_path


def _produced_files(spec: RunSpec) -> dict[str, Path]:
    files = {kind: spec.log_file(kind) for kind in LOG_KINDS}
    files["run_info"] = spec.output_dir / RUN_INFO_FILENAME
    files["spec"] = spec.output_dir / SPEC_FILENAME
    if spec.audit_config is not None:
        files["audit_config"] = spec.output_dir / AUDIT_CONFIG_FILENAME
    return {kind: path for kind, path in files.items() if path.is_file()}


def _read_run_info(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def run_loadgen(spec: RunSpec) -> RunOutcome:
    """Run one LoadGen test in a subprocess and describe what happened.

    Never raises for a failure of the SUT, LoadGen or the child process (crash, abort, timeout,
    missing logs): those become ``ok=False`` with ``failure`` set. Only a spec that cannot even be
    written to disk (e.g. an unwritable output_dir) raises ``OSError``, since that is the caller's
    environment, not a result.
    """
    spec = spec.resolved()
    spec_path = prepare_workdir(spec)
    command = [sys.executable, "-m", "checker.rerun.runner_child", str(spec_path)]
    started = time.perf_counter()
    timed_out = False
    returncode: int | None = None
    stdout: str | bytes | None = ""
    stderr: str | bytes | None = ""
    failure: str | None = None
    try:
        completed = subprocess.run(
            command,
            cwd=spec.output_dir,
            env=_child_env(),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=spec.timeout_s,
            check=False,
        )
        returncode, stdout, stderr = completed.returncode, completed.stdout, completed.stderr
    except subprocess.TimeoutExpired as exc:
        # subprocess.run has already killed (SIGKILL) and reaped the child.
        timed_out = True
        returncode = -signal.SIGKILL
        stdout, stderr = exc.stdout, exc.stderr
        failure = f"timed out after {spec.timeout_s:g} s (killed)"
    except OSError as exc:
        failure = f"could not start the child: {exc}"
    wall_s = time.perf_counter() - started

    files = _produced_files(spec)
    run_info = _read_run_info(files["run_info"]) if "run_info" in files else None
    signal_name = _signal_name(returncode)
    if failure is None:
        if signal_name is not None:
            failure = f"child killed by {signal_name}"
        elif returncode != 0:
            reason = ""
            if run_info and run_info.get("exceptions"):
                last = run_info["exceptions"][-1]
                reason = f": {last.get('type')}: {last.get('message')}"
            failure = f"child exited with status {returncode}{reason}"
        elif "summary" not in files or "detail" not in files:
            failure = "LoadGen wrote no summary/detail log"
    return RunOutcome(
        spec=spec,
        ok=failure is None,
        returncode=returncode,
        signal_name=signal_name,
        timed_out=timed_out,
        wall_s=round(wall_s, 6),
        failure=failure,
        stderr_tail=_tail(stderr),
        stdout_tail=_tail(stdout),
        output_dir=spec.output_dir,
        files=files,
        run_info=run_info,
    )


def run_many(specs: Iterable[RunSpec], jobs: int = 2) -> list[RunOutcome]:
    """Run several tests in parallel subprocesses; outcomes come back in the order of ``specs``.

    Threads are enough to supervise: each one just waits on its child. Two specs must not share
    an output_dir (their logs would overwrite each other), which is checked up front.
    """
    spec_list: Sequence[RunSpec] = [spec.resolved() for spec in specs]
    seen: dict[Path, int] = {}
    for position, spec in enumerate(spec_list):
        if spec.output_dir in seen:
            raise ValueError(f"specs {seen[spec.output_dir]} and {position} share output_dir {spec.output_dir}")
        seen[spec.output_dir] = position
    if not spec_list:
        return []
    with ThreadPoolExecutor(max_workers=max(1, min(jobs, len(spec_list)))) as pool:
        return list(pool.map(run_loadgen, spec_list))
