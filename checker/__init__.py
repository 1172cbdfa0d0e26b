"""mlperf-audit: compliance checker and audit tool for MLPerf Inference submissions."""

__version__ = "0.1.0"
