"""npnet: a small, pure-NumPy neural-network library for learning backprop and weight initialization."""
__version__ = "0.1.0"
