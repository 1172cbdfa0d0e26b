"""`RunSpec`: one LoadGen test, fully described as data, and its translation to LoadGen settings.

A spec is written to JSON by the parent and read back by the child process
(:mod:`checker.rerun.runner_child`), so everything a run depends on is in one reviewable file
next to the logs it produced.

How settings reach LoadGen (and why):

- **Without a user.conf** every field is set on ``TestSettings`` directly and ``FromConfig`` is
  never called. The wheel's compiled-in mlperf.conf would otherwise impose the seeds of the
  round it was built for (6.0.16+ embed the v6.1 seeds) and 10-minute minimum durations.
- **With a user.conf** the child calls ``FromConfig("", model, scenario, 0)`` (embedded
  mlperf.conf only) then ``FromConfig(user_conf, model, scenario, 2)`` (the file only). The
  default type-1 call keeps process-global state and logs "Multiple conf files are used" on a
  second use, which would plant an error in the log; types 0 + 2 never do. Afterwards only the
  spec fields the caller set *explicitly* override the config files, plus scenario, mode and
  the seeds, which are always set (LoadGen ignores seeds in a user.conf anyway).
- **audit.config** is always passed explicitly: when the spec has none, a path that cannot
  exist, so a stray ``./audit.config`` in the working directory is never picked up silently
  (LoadGen's default is to read it from the process cwd).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

if TYPE_CHECKING:  # the .so is only needed where a test actually runs (the child)
    import mlperf_loadgen

Scenario = Literal["SingleStream", "MultiStream", "Server", "Offline"]
Mode = Literal["PerformanceOnly", "AccuracyOnly", "SubmissionRun"]
SutBehaviour = Literal[
    "honest",
    "garbage_in_performance",
    "cache_repeated",
    "corrupt_fraction",
    "raise_in_issue",
    "hang",
]

UINT64_MAX = 2**64 - 1

#: The round seeds (rules-by-round): (qsl, sample_index, schedule).
SEEDS_V6_1 = (2085463073848966840, 2747215439041700203, 16159082839903944936)
SEEDS_V6_0 = (2465351861681999779, 14276810075590677512, 3936089224930324775)

#: File names the child writes next to LoadGen's logs.
SPEC_FILENAME = "run_spec.json"
RUN_INFO_FILENAME = "run_info.json"
AUDIT_CONFIG_FILENAME = "audit.config"
#: Directory that is never created, so ``<workdir>/<this>/audit.config`` never exists.
NO_AUDIT_DIRNAME = ".no-audit-config"

Seed = int


class RunSpec(BaseModel):
    """Everything needed to run one LoadGen test with the ONNX Runtime SUT in a subprocess.

    Units follow ``TestSettings`` (nanoseconds, fractions), not the config files (ms, percent),
    so a value can be compared with the ``requested_*`` keys of the detail log as is.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    # --- what to run -------------------------------------------------------------------------
    scenario: Scenario
    mode: Mode = "PerformanceOnly"
    model_path: Path = Field(description="ONNX model; input 'input' float32 [N, ...], output float32 logits")
    samples_path: Path = Field(description=".npy array of shape (N, ...) float32; the QSL")
    output_dir: Path = Field(description="the test's working dir: cwd of the child, LoadGen outdir")

    total_sample_count: int | None = Field(None, ge=1, description="QSL size; None = all samples in the file")
    performance_sample_count: int | None = Field(None, ge=1, description="QSL perf count; None = total")

    # --- seeds (always set on TestSettings) -------------------------------------------------
    qsl_rng_seed: Seed = Field(SEEDS_V6_1[0], ge=0, le=UINT64_MAX)
    sample_index_rng_seed: Seed = Field(SEEDS_V6_1[1], ge=0, le=UINT64_MAX)
    schedule_rng_seed: Seed = Field(SEEDS_V6_1[2], ge=0, le=UINT64_MAX)
    accuracy_log_rng_seed: Seed = Field(0, ge=0, le=UINT64_MAX)

    # --- run length and scenario parameters ------------------------------------------------
    min_duration_ms: int = Field(1000, ge=0)
    max_duration_ms: int = Field(0, ge=0, description="0 = no limit (LoadGen only stops issuing)")
    min_query_count: int = Field(100, ge=0)
    max_query_count: int = Field(0, ge=0)
    target_qps: float = Field(1000.0, gt=0, description="Server: Poisson arrival rate (also paces accuracy runs)")
    target_latency_ns: int = Field(100_000_000, gt=0, description="Server latency constraint")
    target_latency_percentile: float | None = Field(
        None, gt=0, lt=1, description="fraction; None = LoadGen's default for the scenario"
    )
    expected_latency_ns: int = Field(
        100_000, gt=0,
        description="SingleStream/MultiStream hint; must be <= the real latency or LoadGen runs out of queries",
    )
    offline_expected_qps: float = Field(
        100_000.0, gt=0, description="Offline hint; must be >= the real throughput or min duration is not met"
    )
    samples_per_query: int = Field(8, ge=1, description="MultiStream samples per query")
    performance_sample_count_override: int = Field(0, ge=0)
    accuracy_sample_count_override: int = Field(0, ge=0)
    performance_issue_unique: bool = False
    performance_issue_same: bool = False
    performance_issue_same_index: int = Field(0, ge=0)

    # --- accuracy logging in performance mode ----------------------------------------------
    accuracy_log_probability: float = Field(0.0, ge=0, le=1)
    accuracy_log_sampling_target: int = Field(0, ge=0)

    # --- config files -----------------------------------------------------------------------
    user_conf: Path | None = Field(None, description="user.conf applied with FromConfig (types 0 then 2)")
    model_name: str = Field("tiny", description="model name FromConfig looks up, e.g. 'resnet50'")
    audit_config: Path | None = Field(
        None, description="copied to output_dir/audit.config and passed explicitly; None = disabled"
    )

    # --- logging ----------------------------------------------------------------------------
    enable_trace: bool = False
    log_prefix: str = "mlperf_log_"

    # --- SUT ------------------------------------------------------------------------------
    sut_behaviour: SutBehaviour = Field(
        "honest",
        description=(
            "honest: real logits for every sample. "
            "garbage_in_performance: random bytes (no inference) when the spec's mode is "
            "PerformanceOnly, honest otherwise; the SUT decides from the mode it was asked to run, "
            "as a dishonest harness would, so TEST01's sampled log exposes it. "
            "cache_repeated: serves a cached answer when a sample index repeats (caught by TEST04). "
            "corrupt_fraction: rolls the logits of a seeded choice of corrupt_fraction of the "
            "indices, in every mode. "
            "raise_in_issue: raises out of issue_query (LoadGen's crash mode). "
            "hang: never completes a sample (LoadGen's hang mode; ended by timeout_s)."
        ),
    )
    corrupt_fraction: float = Field(0.0, ge=0, le=1, description="for sut_behaviour='corrupt_fraction'")
    behaviour_seed: int = Field(0, ge=0, description="seeds the garbage bytes / the corrupted sample choice")
    batch_size: int = Field(64, ge=1, description="Offline issue is split into batches of this size")
    worker_threads: int = Field(1, ge=1)
    intra_op_threads: int = Field(1, ge=1)

    # --- supervision ----------------------------------------------------------------------
    timeout_s: float = Field(300.0, gt=0, description="the child is killed after this wall time")

    @model_validator(mode="after")
    def _check_counts(self) -> RunSpec:
        """Reject combinations LoadGen would accept but turn into a confusing run."""
        if (
            self.total_sample_count is not None
            and self.performance_sample_count is not None
            and self.performance_sample_count > self.total_sample_count
        ):
            raise ValueError("performance_sample_count cannot exceed total_sample_count")
        if self.sut_behaviour == "corrupt_fraction" and self.corrupt_fraction == 0:
            raise ValueError("sut_behaviour='corrupt_fraction' needs corrupt_fraction > 0")
        if self.performance_issue_same and self.performance_issue_unique:
            raise ValueError("performance_issue_same and performance_issue_unique are exclusive")
        return self

    # ------------------------------------------------------------------------------------------
    def resolved(self) -> RunSpec:
        """A copy with absolute paths: the child runs with a different cwd."""
        updates: dict[str, Any] = {
            "model_path": self.model_path.expanduser().resolve(),
            "samples_path": self.samples_path.expanduser().resolve(),
            "output_dir": self.output_dir.expanduser().resolve(),
        }
        if self.user_conf is not None:
            updates["user_conf"] = self.user_conf.expanduser().resolve()
        if self.audit_config is not None:
            updates["audit_config"] = self.audit_config.expanduser().resolve()
        return self.model_copy(update=updates)

    def audit_config_argument(self) -> str:
        """The ``audit_config_filename`` to pass to StartTest (see the module docstring)."""
        if self.audit_config is None:
            return str(self.output_dir / NO_AUDIT_DIRNAME / AUDIT_CONFIG_FILENAME)
        return str(self.output_dir / AUDIT_CONFIG_FILENAME)

    def to_child_json(self) -> str:
        """The spec file handed to the child: all values plus which of them were set explicitly.

        The explicit set does not survive a plain JSON round trip (every field would look set),
        and with a user.conf it decides which values override the file.
        """
        payload = {
            "spec": self.model_dump(mode="json"),
            "explicit_fields": sorted(self.model_fields_set),
        }
        return json.dumps(payload, indent=2, sort_keys=True)

    @classmethod
    def from_child_json(cls, text: str) -> tuple[RunSpec, list[str]]:
        """Inverse of :meth:`to_child_json`: the spec and its explicitly set field names."""
        payload = json.loads(text)
        return cls.model_validate(payload["spec"]), list(payload.get("explicit_fields", []))

    def log_file(self, kind: Literal["summary", "detail", "accuracy", "trace"]) -> Path:
        """Where LoadGen writes the given log for this spec."""
        ext = "txt" if kind in ("summary", "detail") else "json"
        return self.output_dir / f"{self.log_prefix}{kind}.{ext}"


# ------------------------------------------------------------------------------------------------
# Translation to LoadGen objects (child side)
# ------------------------------------------------------------------------------------------------

#: spec field -> TestSettings attribute(s), for fields that map one-to-one.
_DIRECT_FIELDS: dict[str, tuple[str, ...]] = {
    "min_duration_ms": ("min_duration_ms",),
    "max_duration_ms": ("max_duration_ms",),
    "min_query_count": ("min_query_count",),
    "max_query_count": ("max_query_count",),
    "target_qps": ("server_target_qps",),
    "target_latency_ns": ("server_target_latency_ns",),
    # Both hints are set: only the one of the scenario is used (and logged) by LoadGen.
    "expected_latency_ns": ("single_stream_expected_latency_ns", "multi_stream_expected_latency_ns"),
    "offline_expected_qps": ("offline_expected_qps",),
    "samples_per_query": ("multi_stream_samples_per_query",),
    "performance_sample_count_override": ("performance_sample_count_override",),
    "accuracy_sample_count_override": ("accuracy_sample_count_override",),
    "performance_issue_unique": ("performance_issue_unique",),
    "performance_issue_same": ("performance_issue_same",),
    "performance_issue_same_index": ("performance_issue_same_index",),
    "accuracy_log_probability": ("accuracy_log_probability",),
    "accuracy_log_sampling_target": ("accuracy_log_sampling_target",),
}

_SEED_FIELDS = ("qsl_rng_seed", "sample_index_rng_seed", "schedule_rng_seed", "accuracy_log_rng_seed")

_PERCENTILE_FIELD = {
    "SingleStream": "single_stream_target_latency_percentile",
    "MultiStream": "multi_stream_target_latency_percentile",
    "Server": "server_target_latency_percentile",
    "Offline": None,  # Offline has no latency percentile setting in TestSettings
}


def build_test_settings(
    spec: RunSpec,
    lg: mlperf_loadgen | None = None,
    *,
    explicit_fields: Iterable[str] | None = None,
) -> tuple[Any, list[int]]:
    """``TestSettings`` for ``spec`` and the ``FromConfig`` return codes (empty without user.conf).

    ``lg`` is the imported ``mlperf_loadgen`` module (passed in so callers control when the
    extension is loaded). ``explicit_fields`` names the fields the caller set on purpose (default:
    ``spec.model_fields_set``); it only matters with a user.conf, where those fields override
    the config files and all others are left to the files.
    """
    if lg is None:
        import mlperf_loadgen as lg

    settings = lg.TestSettings()
    fromconfig_rcs: list[int] = []
    if spec.user_conf is not None:
        fromconfig_rcs.append(settings.FromConfig("", spec.model_name, spec.scenario, 0))
        fromconfig_rcs.append(settings.FromConfig(str(spec.user_conf), spec.model_name, spec.scenario, 2))
        chosen = set(spec.model_fields_set if explicit_fields is None else explicit_fields)
    else:
        chosen = set(type(spec).model_fields)

    settings.scenario = getattr(lg.TestScenario, spec.scenario)
    settings.mode = getattr(lg.TestMode, spec.mode)
    for field in _SEED_FIELDS:
        setattr(settings, field, getattr(spec, field))
    for field, attributes in _DIRECT_FIELDS.items():
        if field in chosen:
            for attribute in attributes:
                setattr(settings, attribute, getattr(spec, field))
    percentile_attr = _PERCENTILE_FIELD[spec.scenario]
    if spec.target_latency_percentile is not None and percentile_attr is not None:
        setattr(settings, percentile_attr, spec.target_latency_percentile)
    return settings, fromconfig_rcs


def build_log_settings(spec: RunSpec, lg: mlperf_loadgen | None = None) -> Any:
    """``LogSettings`` writing to ``spec.output_dir`` (which must exist) with the trace as requested."""
    if lg is None:
        import mlperf_loadgen as lg

    log_settings = lg.LogSettings()
    log_settings.log_output.outdir = str(spec.output_dir)
    log_settings.log_output.prefix = spec.log_prefix
    log_settings.log_output.suffix = ""
    log_settings.log_output.prefix_with_datetime = False
    log_settings.log_output.copy_detail_to_stdout = False
    log_settings.log_output.copy_summary_to_stdout = False
    log_settings.enable_trace = spec.enable_trace
    return log_settings
