"""Parsers: one module per file kind of a submission, each returning a typed model with line provenance."""
