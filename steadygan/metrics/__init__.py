"""Measurements of what a generator has learned."""

from .modes import ModeCoverage, mode_coverage

__all__ = ["ModeCoverage", "mode_coverage"]
