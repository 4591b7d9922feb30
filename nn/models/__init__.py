"""Models built from ``nn`` layers: ``lenet5`` (LeCun et al. 1998) and the recurrent ``rnn``.

Each model module exposes ``init(rng, ...) -> params`` and ``apply(params, x)``; import the
module you need (``from nn.models import lenet5``), nothing is imported here.
"""
