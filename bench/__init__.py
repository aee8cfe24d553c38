"""Benchmarks: our path against the plain-library path, side by side in one run."""
