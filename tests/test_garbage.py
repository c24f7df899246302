"""radar/garbage.py: the collector's young threshold, as the ``radar`` command sets it."""

from __future__ import annotations

import gc
import json
import subprocess
import sys
from pathlib import Path

import pytest

from radar import garbage

ROOT = Path(__file__).resolve().parent.parent


def test_the_radar_command_raises_the_young_threshold() -> None:
    code = (
        "import gc, json\n"
        "from radar.cli import main\n"
        "before = gc.get_threshold()\n"
        f"status = main(['check-config', {str(ROOT / 'examples' / 'radar.toml')!r}])\n"
        "print(json.dumps([status, before, gc.get_threshold()]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    status, before, after = json.loads(out.stdout.strip().splitlines()[-1])
    assert status == 0
    assert before[0] < garbage.YOUNG_THRESHOLD  # CPython's default (700 on 3.11)
    assert after == [garbage.YOUNG_THRESHOLD, *before[1:]]  # the older generations as they were


def test_tune_returns_the_thresholds_before_and_refuses_zero() -> None:
    before = gc.get_threshold()
    try:
        assert garbage.tune(12_345) == before
        assert gc.get_threshold() == (12_345, *before[1:])
        with pytest.raises(ValueError, match="young: 0 must be at least 1"):
            garbage.tune(0)
        assert gc.get_threshold() == (12_345, *before[1:])  # a refused value changes nothing
    finally:
        gc.set_threshold(*before)
