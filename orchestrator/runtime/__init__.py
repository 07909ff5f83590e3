"""Runtimes: where an environment's services run. See ``base.py`` for the seam."""
