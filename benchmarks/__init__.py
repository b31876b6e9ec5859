"""Benchmarks comparing spillframe with its peers (TPC-H, out-of-core)."""
