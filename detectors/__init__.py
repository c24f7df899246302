"""Streaming detectors on per-bucket count series: pure computation, no I/O, no clock."""

from detectors.crisis import Assessment, CrisisDetector
from detectors.surge import Reading, SurgeDetector

__all__ = ["Assessment", "CrisisDetector", "Reading", "SurgeDetector"]
