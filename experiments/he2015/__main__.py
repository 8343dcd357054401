"""python -m experiments.he2015"""
from .. import _common as common
from . import main

raise SystemExit(common.run(main, "experiments.he2015"))
