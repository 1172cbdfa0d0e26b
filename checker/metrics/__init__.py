"""Accuracy plug-ins: recompute a benchmark's accuracy metric from its accuracy log.

The A rules (``checker.checks.accuracy_recompute``) do not know any metric themselves. A rule pack
names a plug-in per benchmark (``benchmarks.<name>.recompute.plugin``), the user or the tree supplies
its annotation file (``check --annotations KEY=PATH``), and the plug-in turns the log's entries into
a :class:`~checker.metrics.base.Score`. See :mod:`checker.metrics.base` for the interface and how a
third-party package registers its own plug-in (entry-point group ``mlperf_audit.metrics``).
"""

from checker.metrics.base import (
    AnnotationError,
    LogEntries,
    MetricPlugin,
    Score,
    ScoreError,
    get_plugin,
    plugin_names,
    register,
)

__all__ = [
    "AnnotationError",
    "LogEntries",
    "MetricPlugin",
    "Score",
    "ScoreError",
    "get_plugin",
    "plugin_names",
    "register",
]
