"""Shared test settings: hypothesis without deadlines (the machines are shared and noisy), Agg plots."""
import os

import matplotlib
from hypothesis import settings

matplotlib.use("Agg")
os.environ.setdefault("MPLBACKEND", "Agg")

settings.register_profile("npnet", deadline=None, max_examples=25, derandomize=True)   # same draws every run
settings.register_profile("explore", deadline=None, max_examples=200, derandomize=False)  # HYPOTHESIS_PROFILE=explore
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "npnet"))
