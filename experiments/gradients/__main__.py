"""python -m experiments.gradients"""
from .. import _common as common
from . import main

raise SystemExit(common.run(main, "experiments.gradients"))
