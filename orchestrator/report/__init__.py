"""Renderers: pure functions from results to text (JSON is ``RunResult.to_dict``)."""
