"""python -m experiments.he2015"""
from .. import _cli as cli
from . import main

raise SystemExit(cli.run(main, "experiments.he2015"))
