"""Optional: npnet trains step for step like PyTorch (skipped when torch is not installed; never a dependency)."""
import numpy as np
import pytest

import npnet

torch = pytest.importorskip("torch")

TORCH_ACT = {"sigmoid": torch.nn.Sigmoid, "tanh": torch.nn.Tanh, "relu": torch.nn.ReLU}


def twin(net):
    """A torch.nn.Sequential with the same layers and a copy of ``net``'s parameters (float64)."""
    layers = []
    for layer in net.layers:
        if isinstance(layer, npnet.Dense):
            lin = torch.nn.Linear(layer.in_features, layer.out_features, dtype=torch.float64)
            with torch.no_grad():
                lin.weight.copy_(torch.from_numpy(layer.W))
                lin.bias.copy_(torch.from_numpy(layer.b))
            layers.append(lin)
        else:
            layers.append(TORCH_ACT[layer.name]())
    return torch.nn.Sequential(*layers)


@pytest.mark.parametrize("act", ["sigmoid", "tanh", "relu"])
@pytest.mark.parametrize("opt_name", ["sgd", "sgd_momentum", "adam"])
def test_training_matches_pytorch(act, opt_name):
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((64, 12)), rng.integers(0, 4, 64)
    net = npnet.mlp([12, 16, 8, 4], act, "xavier_normal", bias_init=("normal", {"std": 0.1}), rng=rng)
    model = twin(net)
    if opt_name == "adam":
        ours, theirs = npnet.Adam(net, lr=1e-2), torch.optim.Adam(model.parameters(), lr=1e-2)
    else:
        mom = 0.9 if opt_name == "sgd_momentum" else 0.0
        ours, theirs = npnet.SGD(net, lr=0.1, momentum=mom), torch.optim.SGD(model.parameters(), lr=0.1,
                                                                              momentum=mom)
    loss_fn = torch.nn.CrossEntropyLoss()
    our_losses = []
    npnet.train(net, X, y, optimizer=ours, epochs=3, batch_size=16, rng=np.random.default_rng(1),
                eval_train=False, on_step=lambda e, s, n, value: our_losses.append(value))
    order_rng, their_losses = np.random.default_rng(1), []
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    for _ in range(3):
        order = torch.from_numpy(order_rng.permutation(64))
        for start in range(0, 64, 16):
            idx = order[start:start + 16]
            theirs.zero_grad()
            loss = loss_fn(model(Xt[idx]), yt[idx])
            loss.backward()
            theirs.step()
            their_losses.append(loss.item())
    np.testing.assert_allclose(our_losses, their_losses, rtol=1e-12, atol=1e-13)
    ours_params = [p.value for p in net.parameters()]
    for mine, their in zip(ours_params, model.parameters()):
        np.testing.assert_allclose(mine, their.detach().numpy(), rtol=1e-10, atol=1e-12)


def test_torch_default_init_matches_nn_linear_bounds():
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    net = npnet.mlp([300, 200, 10], "relu", "torch_default", rng=rng)
    bound = 1 / np.sqrt(300)
    W, b = net.dense[0].W, net.dense[0].b
    lin = torch.nn.Linear(300, 200, dtype=torch.float64)
    assert np.abs(W).max() <= bound and np.abs(b).max() <= bound
    assert np.isclose(W.std(), lin.weight.detach().numpy().std(), rtol=0.05)
    assert np.isclose(b.std(), lin.bias.detach().numpy().std(), rtol=0.25)


@pytest.mark.parametrize("name, param", [("linear", None), ("sigmoid", None), ("tanh", None), ("relu", None),
                                         ("leaky_relu", None), ("leaky_relu", 0.2), ("selu", None)])
def test_gain_matches_calculate_gain(name, param):
    assert npnet.init.calculate_gain(name, param) == pytest.approx(torch.nn.init.calculate_gain(name, param), rel=1e-12)
