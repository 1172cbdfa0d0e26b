"""Session fixture ``loadgen_logs``: real LoadGen logs for all scenarios x {performance, accuracy}.

Registered as a pytest plugin from tests/conftest.py (``pytest_plugins = ["loadgen_fixtures"]``),
so any test can ask for fresh logs; the eight runs happen once per session, two at a time in
subprocesses (about 4-6 s on a 2-core host).
"""

from __future__ import annotations

import pytest
from loadgen_runs import LoadgenLogs, run_matrix


@pytest.fixture(scope="session")
def loadgen_logs(tmp_path_factory: pytest.TempPathFactory) -> LoadgenLogs:
    """The matrix of runs; fails (not errors) with the child's stderr when a run did not finish."""
    logs = run_matrix(tmp_path_factory.mktemp("loadgen_logs"))
    broken = {key: outcome for key, outcome in logs.outcomes.items() if not outcome.ok}
    if broken:
        lines = [f"{key}: {o.failure}\n{o.stderr_tail}" for key, o in broken.items()]
        pytest.fail("LoadGen runs failed:\n" + "\n".join(lines))
    return logs
