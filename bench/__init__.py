"""Benchmarks for Paper Digest: `python -m bench [name ...]` (or `make bench`)."""
