"""python -m experiments.training"""
from .. import _cli as cli
from . import main

raise SystemExit(cli.run(main, "experiments.training"))
