"""Benchmarks: hand-derived backprop against the tape (`python -m benchmarks`)."""
