"""python -m experiments.glorot2010"""
from .. import _common as common
from . import main

raise SystemExit(common.run(main, "experiments.glorot2010"))
