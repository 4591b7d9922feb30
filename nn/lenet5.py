"""``python -m nn.lenet5 train [--quick] [--out DIR] [--data DIR] [--epochs N] [--variant ...]
[--resume CKPT]``: train LeNet-5 on MNIST (see ``nn.models.lenet5_train``)."""

from nn.models.lenet5 import main

__all__ = ["main"]

if __name__ == "__main__":
    raise SystemExit(main())
