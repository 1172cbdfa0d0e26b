"""The accuracy plug-in interface.

A plug-in is an object with a ``name``, a ``metric`` description and two methods:

``load_annotations(path) -> Any``
    Read the annotation file the metric needs (ImageNet ``val_map.txt``, COCO
    ``instances_val2017.json``, the SQuAD dev set, ...). Raise :class:`AnnotationError` with a
    one-line reason when the file cannot be used. Called once per file and run (cached).

``score(entries, annotations, dataset_size) -> Score``
    Compute the metric from the log's entries (:class:`LogEntries`: the first entry of every
    ``qsl_idx`` in file order, as the official accuracy scripts count them, with the payload bytes
    exactly as LoadGen logged them). Raise :class:`ScoreError` with a one-line reason when the
    payloads cannot be interpreted. ``Score.value`` is in the unit ``accuracy.txt`` prints (percent
    for ``acc``, ``mAP``, ``F1``...), so the A rules can compare it with the claim directly.

Plug-ins never print, never raise anything else on bad input, and never read the checked tree
beyond the files they are given. Register one with :func:`register` (built-ins below), or ship it
in another package under the entry-point group ``mlperf_audit.metrics``::

    [project.entry-points."mlperf_audit.metrics"]
    coco-map = "my_package.coco:PLUGIN"

and name it in a rule pack::

    benchmarks:
      ssd-small:
        recompute: {plugin: coco-map, metric: mAP, dataset: coco,
                    tree_files: [data_maps/coco/instances_val2017.json]}

then run ``mlperf-audit check TREE --annotations coco=/data/instances_val2017.json``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    import numpy as np

ENTRY_POINT_GROUP = "mlperf_audit.metrics"


class AnnotationError(Exception):
    """The annotation file cannot be used (missing, unreadable, wrong format)."""


class ScoreError(Exception):
    """The log's payloads cannot be interpreted by this metric."""


@dataclass
class LogEntries:
    """The entries a metric scores: the first entry of each ``qsl_idx``, in file order."""

    qsl_idx: np.ndarray
    payloads: list[bytes]
    lines: list[int]
    duplicates: int = 0
    complete: bool = True

    def __len__(self) -> int:
        return len(self.payloads)


@dataclass
class Score:
    """A recomputed metric, with the figures behind it and how the payloads were read."""

    metric: str
    value: float
    detail: str
    counts: dict[str, Any] = field(default_factory=dict)
    encoding: str | None = None


@runtime_checkable
class MetricPlugin(Protocol):
    name: str
    metric: str

    def load_annotations(self, path: Path) -> Any: ...

    def score(self, entries: LogEntries, annotations: Any, dataset_size: int | None) -> Score: ...


_PLUGINS: dict[str, MetricPlugin] = {}
_LOADED_ENTRY_POINTS = False


def register(plugin: MetricPlugin, *, replace: bool = False) -> MetricPlugin:
    """Make ``plugin`` available under ``plugin.name``."""
    if not isinstance(plugin, MetricPlugin):
        raise TypeError(f"{plugin!r} does not implement the MetricPlugin interface")
    if plugin.name in _PLUGINS and not replace and _PLUGINS[plugin.name] is not plugin:
        raise ValueError(f"accuracy plug-in {plugin.name!r} registered twice")
    _PLUGINS[plugin.name] = plugin
    return plugin


def unregister(name: str) -> None:
    _PLUGINS.pop(name, None)


def _load_builtin_and_entry_points() -> None:
    global _LOADED_ENTRY_POINTS
    import checker.metrics.imagenet  # noqa: F401 - registers the built-in plug-in

    if _LOADED_ENTRY_POINTS:
        return
    _LOADED_ENTRY_POINTS = True
    from importlib.metadata import entry_points

    try:
        found = entry_points(group=ENTRY_POINT_GROUP)
    except Exception:  # noqa: BLE001 - a broken environment must not stop the checker
        return
    for entry in found:
        try:
            plugin = entry.load()
            if isinstance(plugin, MetricPlugin):
                register(plugin, replace=True)
        except Exception:  # noqa: BLE001, S112 - a broken third-party plug-in is skipped, reported as unknown
            continue


def get_plugin(name: str) -> MetricPlugin | None:
    _load_builtin_and_entry_points()
    return _PLUGINS.get(name)


def plugin_names() -> list[str]:
    _load_builtin_and_entry_points()
    return sorted(_PLUGINS)


def significant_tolerance(value: float, digits: int = 5) -> float:
    """Half a unit in the last of ``digits`` significant figures of ``value`` (the rounding a
    five-significant-figure report allows)."""
    import math

    if value == 0 or not math.isfinite(value):
        return 0.5 * 10 ** (-digits)
    return 0.5 * 10 ** (math.floor(math.log10(abs(value))) - digits + 1)


def printed_tolerance(raw: str) -> float:
    """Half a unit in the last printed decimal of ``raw`` ('76.04' -> 0.005; '76' -> 0.5)."""
    text = raw.strip().lstrip("+-")
    mantissa, _, exponent = text.lower().partition("e")
    decimals = len(mantissa.partition(".")[2])
    scale = int(exponent) if exponent.lstrip("+-").isdigit() else 0
    return 0.5 * 10 ** (scale - decimals)
