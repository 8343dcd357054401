"""python -m experiments.depth"""
from .. import _cli as cli
from . import main

raise SystemExit(cli.run(main, "experiments.depth"))
