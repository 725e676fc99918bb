"""Benchmarks: the service against a bare baseline measured in the same run."""
