"""Shared test settings: hypothesis without deadlines (the machines are shared and noisy), Agg plots."""
import os

import matplotlib
from hypothesis import settings

matplotlib.use("Agg")
os.environ.setdefault("MPLBACKEND", "Agg")

settings.register_profile("npnet", deadline=None, max_examples=25, derandomize=False)
settings.register_profile("ci", deadline=None, max_examples=25, derandomize=True)
settings.load_profile("ci" if os.environ.get("CI") else "npnet")
