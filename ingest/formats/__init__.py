"""Payload formats: each turns parsed JSON (or text) into :class:`Measure` values, no validation."""
