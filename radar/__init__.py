"""Crisis Radar: early warning for brand crises on social media.

The service (:mod:`radar.service`, :mod:`radar.app`), its pipeline (:mod:`radar.pipeline`) and the
parts it is built from; detectors live in :mod:`detectors`, levels, incidents and notifiers in
:mod:`alerts`.
"""

__version__ = "0.1.0"
