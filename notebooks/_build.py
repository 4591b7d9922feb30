"""Build and execute the walkthrough notebooks: ``python notebooks/_build.py``.

Each notebook is a list of markdown and code cells below. Code cells run in one
namespace, top to bottom; their printed output and matplotlib figures are stored
in the .ipynb, so the notebooks read as executed on GitHub or in Jupyter.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import sys
import traceback
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

HERE = Path(__file__).resolve().parent


def _run(cells: list[tuple[str, str]]) -> list[dict]:
    ns: dict = {"__name__": "__notebook__"}
    out_cells = []
    count = 0
    for kind, src in cells:
        src = src.strip("\n")
        if kind == "md":
            out_cells.append({"cell_type": "markdown", "metadata": {}, "source": src})
            continue
        count += 1
        buf = io.StringIO()
        outputs = []
        with contextlib.redirect_stdout(buf):
            try:
                exec(compile(src, f"<cell {count}>", "exec"), ns)
            except Exception:
                traceback.print_exc(file=buf)
                raise
        if buf.getvalue():
            text = buf.getvalue()
            outputs.append({"output_type": "stream", "name": "stdout", "text": text})
        for num in plt.get_fignums():
            fig = plt.figure(num)
            png = io.BytesIO()
            fig.savefig(png, format="png", dpi=90, bbox_inches="tight")
            data = {"image/png": base64.b64encode(png.getvalue()).decode()}
            outputs.append({"output_type": "display_data", "metadata": {}, "data": data})
            plt.close(fig)
        out_cells.append({"cell_type": "code", "execution_count": count, "metadata": {},
                          "outputs": outputs, "source": src})  # fmt: skip
    return out_cells


def build(name: str, cells: list[tuple[str, str]]) -> Path:
    nb = {
        "cells": _run(cells),
        "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python",
                                    "name": "python3"},
                     "language_info": {"name": "python"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }  # fmt: skip
    path = HERE / name
    path.write_text(json.dumps(nb, indent=1) + "\n")
    return path


def code_cells(path: Path) -> list[str]:
    """The code of a built notebook, for tests that run it again."""
    nb = json.loads(path.read_text())
    return [c["source"] for c in nb["cells"] if c["cell_type"] == "code"]


if __name__ == "__main__":
    sys.path.insert(0, str(HERE.parent))
    sys.path.insert(0, str(HERE))
    from tour import CELLS

    print(build("01_autodiff_tour.ipynb", CELLS))
