"""The code is ruff-clean (the same checks STYLE.md asks for), so CI enforces them."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("args", [["check", "."], ["format", "--check", "."]])
def test_ruff_clean(args):
    pytest.importorskip("ruff", reason="ruff comes with the dev extra")
    # the ruff of this environment (the dev extra's), not whichever is first on PATH
    res = subprocess.run([sys.executable, "-m", "ruff", *args], cwd=ROOT, capture_output=True,
                         text=True)  # fmt: skip
    assert res.returncode == 0, res.stdout + res.stderr
