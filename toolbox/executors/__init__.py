"""Executors: where the per-record part of a build runs (contract in toolbox/core/executor.py)."""
