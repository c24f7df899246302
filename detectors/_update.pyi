"""Type stub of the compiled per-bucket update (``detectors/_update.pyx``)."""

from collections.abc import Hashable, Mapping
from typing import Any

from detectors.crisis import Assessment, CrisisDetector
from detectors.surge import Reading, SurgeDetector

def week_code(value: float) -> int: ...
def surge_update(
    det: SurgeDetector, t: float, observed: float, given: float | None, missing: bool, learn_own: bool
) -> Reading: ...
def crisis_update_counts(det: CrisisDetector, t: float, mentions: float, negative: float) -> Assessment: ...
def crisis_learn(
    det: CrisisDetector,
    vol: Reading,
    mentions: float,
    negative: float,
    missing: bool,
    x: Mapping[Hashable, Any] | None,
) -> Assessment: ...
