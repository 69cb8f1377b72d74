"""Tests of the tools the benchmarks measure with."""
