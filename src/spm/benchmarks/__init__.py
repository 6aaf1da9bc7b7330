"""Benchmarks: throughput as ratios against a baseline measured in the same process."""
