"""Evaluation: score saved predictions (no regeneration), compare runs, judge with a model."""
