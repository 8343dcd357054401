"""The benchmark's workload, shared by every contender: network sizes, batch, samples, learning rate."""


SIZES = [784, 100, 100, 100, 100, 100, 10]
BATCH = 100
N_TRAIN = 8_000
LR = 0.01
#: seconds to wait, untimed, before each timed contender. Thread pools keep spinning after their last operation
#: (PyTorch's OpenMP threads ~0.2 s, OpenBLAS's ~0.1 s) and slowed whatever ran next in the interleaved order:
#: measured here, PyTorch right after scikit-learn took 207 ms instead of 139 ms, and the floor after PyTorch 5–23 %
#: longer. With the pause every contender starts on an idle machine.
SETTLE = 0.3
