"""nn: a functional neural-network library over pytrees, built on autodiff."""
