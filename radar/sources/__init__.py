"""Where mentions come from: files and stdin for replays (:mod:`radar.sources.files`)."""
