"""The phase experiment's protocol: network, training budget, the σ_w² × depth grids, and the published finding."""


SIGMA_B2 = 0.05
WIDTH = 100
BATCH = 128
N_TRAIN, N_TEST = 60 * BATCH, 2_000          # 7,680 training images: 60 full batches per pass, no ragged batch
STEPS = 600                                   # 10 passes over the training images
LR_SCALE = 0.3                                # lr = LR_SCALE / L (see PROTOCOL)
DTYPE = "float32"     # this experiment's default: 1.7× faster than float64 at width 100, which buys the grid;
                      # still bitwise reproducible (one BLAS thread per cell at any --jobs); --dtype float64 works
TRAINED = 0.5                                 # test accuracy that counts as "trained" (chance: 0.1)
CACHE_VERSION = 1                             # bump when a change to the code changes a cell's result

TANH_SIGMA_W2 = (0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0, 2.25, 2.5, 3.0, 3.5, 4.0)
TANH_DEPTHS = (2, 5, 10, 15, 20, 35, 45, 60, 80, 100)
RELU_DEPTHS = (2, 10, 30, 60)
XI_SIGMA_W2 = (0.75, 1.0, 1.25, 1.5, 2.0, 2.5, 3.0, 4.0)   # where ξ is measured (tanh)
XI_WIDTH, XI_PAIRS, XI_C0 = 1000, 64, 0.99

QUICK = {"sigma_w2": (1.0, 1.75, 3.0), "depths": (2, 10), "relu_depths": (2,), "steps": 30,
         "n_train": 10 * BATCH, "n_test": 500, "xi_sigma_w2": (1.0, 3.0), "xi_width": 300,
         "theory_points": 29}
THEORY_POINTS = 141                           # σ_w² = 0.5, 0.525, … 4 for the theory curves

PROTOCOL = ("plain SGD (no momentum), batch 128, a fixed number of steps, lr = 0.3 / L. Why 1/L: near the critical "
            "line every layer's weights get gradients of similar size, so one SGD step moves the output by an amount "
            "that grows ∝ L (the neural tangent kernel is a sum over layers); lr ∝ 1/L keeps that step depth-"
            "independent. 0.3 was the best of {0.3, 0.6}/L and of fixed lr ∈ {0.003, 0.01, 0.03, 0.1} in a 300-step "
            "pilot at σ_w² = 1.76, L = 10…100 (a fixed lr that trains L = 10 fast makes L = 100 diverge or stall).")

PUBLISHED = {
    "source": "Schoenholz, Gilmer, Ganguli, Sohl-Dickstein, 'Deep Information Propagation', ICLR 2017",
    "finding": "random tanh networks are trainable precisely when L ≲ 6 ξ_c (MNIST, CIFAR-10); ξ_c diverges at the "
               "order-to-chaos transition, so arbitrarily deep nets train only close to criticality",
    "trainable_depth_in_xi_c": 6,
    "sigma_b2": 0.05,
    "critical_sigma_w2_tanh": 1.76,
}
