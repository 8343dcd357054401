"""python -m experiments.glorot2010"""
from .. import _cli as cli
from . import main

raise SystemExit(cli.run(main, "experiments.glorot2010"))
