"""Shared helpers of the deploy tests: trigger-like inputs and briefly trained models."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest


def trigger_like(rng: np.random.Generator, n: int, n_features: int = 57) -> np.ndarray:
    """Values drawn like power-of-two-scaled trigger inputs: mostly in [-3, 3], many exact zeros.

    Objects absent from an event are zero-padded (about 40% of the entries); present
    ones are a heavy-ish tailed bulk clipped to +-3.
    """
    x = rng.standard_t(df=5, size=(n, n_features)).clip(-3.0, 3.0)
    x[rng.random((n, n_features)) < 0.4] = 0.0
    return x.astype(np.float32)


def train_briefly(model, x: np.ndarray, n_out: int, steps: int = 300, seed: int = 0) -> None:
    """A few hundred Adam steps regressing a random linear map, so weights leave their init."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    data = torch.from_numpy(x)
    target_map = torch.randn(data.shape[1], n_out, generator=gen) * 0.5
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    model.train()
    for _ in range(steps):
        idx = torch.randint(0, data.shape[0], (256,), generator=gen)
        batch = data[idx]
        loss = ((model(batch) - batch @ target_map) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()


@pytest.fixture(scope="session")
def make_inputs() -> Callable[[int, int], np.ndarray]:
    """``make_inputs(n, seed)``: trigger-like inputs, shape (n, 57)."""
    return lambda n, seed: trigger_like(np.random.default_rng(seed), n)


@pytest.fixture(scope="session")
def trainer() -> Callable[..., None]:
    """``trainer(model, x, n_out)``: :func:`train_briefly`."""
    return train_briefly
