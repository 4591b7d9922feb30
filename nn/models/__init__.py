"""Models built from ``nn`` layers, one module each (``lenet5``, ``rnn``, ``gan``, ...).

Each exposes ``init(rng, ...) -> params`` and an apply function; import the module you need
(``from nn.models import lenet5``); nothing is imported here.
"""
