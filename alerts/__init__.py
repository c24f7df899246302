"""Incidents, escalation and notification: a library that knows nothing of the radar service."""
