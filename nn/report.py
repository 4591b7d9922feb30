"""Plots for training reports, written as PNG with matplotlib's Agg canvas (no display).

Each ``plot_*`` draws on its own ``Figure`` (never pyplot's global state), saves it to
``path`` and returns the path.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = [
    "confusion_matrix",
    "plot_learning_curves",
    "plot_confusion_matrix",
    "plot_misclassified",
    "plot_feature_maps",
]


def _figure(width: float, height: float):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=100, layout="constrained")


def _save(fig, path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    return path


def confusion_matrix(labels, preds, num_classes: int = 10) -> np.ndarray:
    """Counts (K, K): row = true class, column = predicted class.

    >>> confusion_matrix([0, 1, 1], [0, 1, 0], 2)
    array([[1, 0],
           [1, 1]])
    """
    labels, preds = np.asarray(labels, np.intp), np.asarray(preds, np.intp)
    return np.bincount(labels * num_classes + preds, minlength=num_classes**2).reshape(
        num_classes, num_classes
    )


def plot_learning_curves(history: dict, path) -> Path:
    """Train/test error (%) and mean training loss per pass, from a training ``history``."""
    from matplotlib import ticker

    fig = _figure(10, 4)
    ax_err, ax_loss = fig.subplots(1, 2)
    epochs = history["epoch"]
    ax_err.plot(epochs, 100 * np.asarray(history["train_error"]), "o-", label="train")
    ax_err.plot(epochs, 100 * np.asarray(history["test_error"]), "s-", label="test")
    ax_err.set(xlabel="pass", ylabel="error (%)", title="error rate")
    if len(epochs) and min(min(history["train_error"]), min(history["test_error"])) > 0:
        ax_err.set_yscale("log")
        ax_err.yaxis.set_major_formatter(ticker.FormatStrFormatter("%g"))
        ax_err.yaxis.set_minor_formatter(ticker.FormatStrFormatter("%g"))
    for ax in (ax_err, ax_loss):
        ax.xaxis.set_major_locator(ticker.MaxNLocator(integer=True))
    ax_err.grid(True, which="both", alpha=0.3)
    ax_err.legend()
    ax_loss.plot(epochs, history["loss"], "o-")
    ax_loss.set(xlabel="pass", ylabel="mean loss", title="training loss")
    ax_loss.grid(True, alpha=0.3)
    return _save(fig, path)


def plot_confusion_matrix(cm: np.ndarray, path) -> Path:
    """The confusion matrix with its counts; the diagonal is masked so the errors show."""
    fig = _figure(6, 5.4)
    ax = fig.subplots()
    off = np.asarray(cm, float).copy()
    np.fill_diagonal(off, np.nan)
    im = ax.imshow(off, cmap="Reds")
    k = len(cm)
    for i in range(k):
        for j in range(k):
            if cm[i, j]:
                ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=7)
    ax.set(xticks=range(k), yticks=range(k), xlabel="predicted", ylabel="true")
    errors = int(cm.sum() - np.trace(cm))
    ax.set_title(f"confusion matrix: {errors} errors of {int(cm.sum())}")
    fig.colorbar(im, ax=ax, label="errors")
    return _save(fig, path)


def plot_misclassified(images, labels, preds, path, limit: int = 100) -> Path:
    """The first ``limit`` misclassified digits, each titled ``true->predicted``."""
    wrong = np.flatnonzero(np.asarray(preds) != np.asarray(labels))[:limit]
    cols = 10
    rows = max(1, -(-len(wrong) // cols))
    fig = _figure(cols * 1.0, rows * 1.15 + 0.4)
    axes = np.asarray(fig.subplots(rows, cols, squeeze=False)).ravel()
    for ax in axes:
        ax.axis("off")
    for ax, i in zip(axes, wrong, strict=False):
        ax.imshow(images[i], cmap="gray_r")
        ax.set_title(f"{labels[i]}->{preds[i]}", fontsize=8)
    fig.suptitle(f"misclassified: {int(np.sum(np.asarray(preds) != np.asarray(labels)))}")
    return _save(fig, path)


def plot_feature_maps(features: dict, path, label: int | None = None) -> Path:
    """Input and the maps of C1, S2, C3, S4 for one pattern (the kind of the paper's Fig. 7),
    plus F6 shown as a 7x12 image and the 10 outputs.

    ``features``: ``lenet5.features(params, x)`` for x of shape (1, 1, 32, 32).
    """
    layers = ["C1", "S2", "C3", "S4"]
    maps = {k: np.asarray(features[k])[0] for k in layers}
    cols = max(len(m) for m in maps.values())
    fig = _figure(cols * 0.75, 6.2)
    grid = fig.add_gridspec(len(layers) + 1, cols)
    ax = fig.add_subplot(grid[0, 0:2])
    ax.imshow(np.asarray(features["input"])[0, 0], cmap="gray_r")
    ax.set_title("input" + ("" if label is None else f" ({label})"), fontsize=9)
    ax.axis("off")
    ax = fig.add_subplot(grid[0, 3:5])
    ax.imshow(np.asarray(features["F6"])[0].reshape(12, 7), cmap="gray_r")
    ax.set_title("F6 (7x12)", fontsize=9)
    ax.axis("off")
    ax = fig.add_subplot(grid[0, 6:])
    out = np.asarray(features["output"])[0]
    ax.bar(range(len(out)), out, color="tab:gray")
    ax.set_xticks(range(len(out)))
    ax.yaxis.tick_right()  # labels on the left would widen the grid column they sit in
    ax.set_title("output", fontsize=9)
    for r, name in enumerate(layers, start=1):
        for c, m in enumerate(maps[name]):
            ax = fig.add_subplot(grid[r, c])
            ax.imshow(m, cmap="gray_r")
            ax.set_xticks([])
            ax.set_yticks([])
            if c == 0:
                ax.set_ylabel(name, fontsize=9)
    return _save(fig, path)
