"""Fidelity audit: how far a blueprint, or a live environment, is from production."""
