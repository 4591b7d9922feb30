"""Hand-derived backpropagation in pure NumPy, the reference for the AD benchmarks."""
