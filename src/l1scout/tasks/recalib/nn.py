"""Neural networks for the re-calibration: dense + batch-norm + ReLU blocks, as in the re-calibration study.

The seed's networks (``docs/physics/l1-algorithms.md``, "Models and published results"; its Table 6) are named by
their width and depth, ``"<H>x<N>"``: ``N`` hidden blocks of ``H`` neurons,
each a dense layer + batch normalisation + ReLU
(:func:`l1scout.deploy.quant.float_mlp` with ``batch_norm=True``), then a plain
linear layer to the outputs. ``128x4`` on 4 inputs and 3 outputs is
``4 -> 128 -> 128 -> 128 -> 128 -> 3``: ``4*128 + 3*128*128 + 128*3 = 50,048``
multiply-accumulates; ``32x3`` is ``4*32 + 2*32*32 + 32*3 = 2,272``. The seed's
Table 8 gives 66,432 and 3,296: its formula ``H (D + N_l H + T)`` counts ``N_l``
hidden-to-hidden layers where ``N_l`` blocks have ``N_l - 1``
(:mod:`l1scout.tasks.recalib.ops`).

Training follows the seed: Adam with default parameters, mean squared error or
log-cosh loss on the standardised targets, an optional L2 penalty of the dense
weights (Keras' ``l2(1e-5)`` regulariser: ``weight_decay * sum(W**2)`` added
to the loss; biases and batch-norm parameters are not penalised), and early
stopping on the validation loss that keeps the best epoch's weights. A fit is
deterministic for a given seed (weights, shuffling) on one machine.

Example:
    >>> parse_arch("128x4"), layer_sizes(4, 3, "32x3")
    ((128, 4), [4, 32, 32, 32, 3])
"""

from __future__ import annotations

import copy
import logging
import math
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import numpy as np
import numpy.typing as npt

from l1scout._types import F32
from l1scout.errors import ConfigError

if TYPE_CHECKING:
    import torch

__all__ = [
    "EpochCallback",
    "NNFit",
    "build_network",
    "fit_network",
    "layer_sizes",
    "log_cosh",
    "parse_arch",
    "predict_network",
]

_log = logging.getLogger(__name__)

#: ``on_epoch(epoch, metrics)`` after every epoch (epoch counted from 1).
EpochCallback = Callable[[int, Mapping[str, float]], None]

_ARCH = re.compile(r"^\s*(\d+)\s*x\s*(\d+)\s*$")


def parse_arch(arch: str) -> tuple[int, int]:
    """Width and number of hidden blocks of a seed-style name such as ``"128x4"``.

    Raises:
        ConfigError: not ``<width>x<blocks>`` with a positive width and at least one block.

    >>> parse_arch("32x3")
    (32, 3)
    """
    match = _ARCH.match(arch)
    if match is None or int(match.group(1)) < 1 or int(match.group(2)) < 1:
        msg = (
            f"network architecture {arch!r}: expected '<width>x<blocks>' with width and "
            "blocks >= 1, e.g. '128x4' or '32x3'"
        )
        raise ConfigError(msg)
    return int(match.group(1)), int(match.group(2))


def layer_sizes(n_inputs: int, n_outputs: int, arch: str) -> list[int]:
    """Layer widths of a seed-style network: inputs, ``blocks`` hidden layers, outputs.

    >>> layer_sizes(4, 3, "128x4")
    [4, 128, 128, 128, 128, 3]
    """
    hidden, blocks = parse_arch(arch)
    return [n_inputs, *([hidden] * blocks), n_outputs]


def build_network(n_inputs: int, n_outputs: int, arch: str) -> torch.nn.Sequential:
    """The untrained network: ``float_mlp(layer_sizes(...), batch_norm=True)``."""
    from l1scout.deploy.quant import float_mlp

    return float_mlp(layer_sizes(n_inputs, n_outputs, arch), batch_norm=True)


def log_cosh(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean of ``log(cosh(pred - target))``, computed without overflow.

    ``log cosh(r) = |r| + log(1 + exp(-2|r|)) - log 2``, stable for large ``|r|``.

    >>> import torch
    >>> round(float(log_cosh(torch.tensor([1.0, 100.0]), torch.zeros(2))), 4)
    49.8703
    """
    import torch

    r = (pred - target).abs()
    return (r + torch.nn.functional.softplus(-2.0 * r) - math.log(2.0)).mean()


def _loss_fn(loss: str) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    import torch

    if loss == "mse":
        return torch.nn.functional.mse_loss
    if loss == "logcosh":
        return log_cosh
    msg = f"loss {loss!r}: expected 'mse' or 'logcosh'"
    raise ConfigError(msg)


def _l2_penalty(model: torch.nn.Module) -> torch.Tensor:
    import torch

    terms = [m.weight.pow(2).sum() for m in model.modules() if isinstance(m, torch.nn.Linear)]
    return torch.stack(terms).sum()


def predict_network(model: torch.nn.Module, x: npt.ArrayLike, *, batch_size: int = 65_536) -> F32:
    """The network's outputs for *x* (eval mode, no gradients, in batches), float32."""
    import torch

    arr = np.ascontiguousarray(x, dtype=np.float32)
    was_training = model.training
    model.eval()
    with torch.no_grad():
        out: list[F32] = [
            model(torch.from_numpy(arr[lo : lo + batch_size])).numpy()
            for lo in range(0, len(arr), batch_size)
        ]
    model.train(was_training)
    if not out:
        return np.zeros((0, 0), dtype=np.float32)
    return np.concatenate(out).astype(np.float32, copy=False)


@dataclass
class NNFit:
    """A trained network and how it was trained.

    Attributes:
        model: the network in eval mode, weights of the best validation epoch.
        arch: its seed-style name (``"128x4"``).
        loss: ``"mse"`` or ``"logcosh"``.
        weight_decay: the L2 penalty of the dense weights.
        history: one dict per epoch: ``epoch``, ``train_loss`` (mean over the
            epoch's batches, without the penalty), ``val_loss``, ``val_rmse``
            (RMSE of the standardised targets, all outputs together).
        best_epoch: the epoch whose weights were kept (from 1).
        seconds: wall-clock training time (s).
        n_inputs: inputs of the network.
        n_outputs: outputs of the network.
    """

    model: torch.nn.Sequential
    arch: str
    loss: str
    weight_decay: float
    history: list[dict[str, float]] = field(default_factory=list)
    best_epoch: int = 0
    seconds: float = 0.0
    n_inputs: int = 0
    n_outputs: int = 0

    def predict(self, x: npt.ArrayLike) -> F32:
        """Standardised target predictions for inputs *x* scaled like the training inputs."""
        return predict_network(self.model, x)


def _as_2d(a: npt.ArrayLike, name: str) -> F32:
    arr = np.ascontiguousarray(a, dtype=np.float32)
    if arr.ndim != 2 or len(arr) == 0:
        msg = f"{name}: expected a non-empty 2-D array (events, columns), got shape {arr.shape}"
        raise ConfigError(msg)
    return arr


def fit_network(
    arch: str,
    x_train: npt.ArrayLike,
    y_train: npt.ArrayLike,
    x_val: npt.ArrayLike,
    y_val: npt.ArrayLike,
    *,
    loss: Literal["mse", "logcosh"] = "mse",
    weight_decay: float = 0.0,
    batch_size: int = 512,
    learning_rate: float = 1e-3,
    epochs: int = 200,
    patience: int = 10,
    seed: int = 1,
    threads: int | None = None,
    on_epoch: EpochCallback | None = None,
) -> NNFit:
    """Train a seed-style network with Adam and early stopping on the validation loss.

    Args:
        arch: ``"<width>x<blocks>"`` (see :func:`layer_sizes`).
        x_train: training inputs (n, d), scaled (the seed: to [0, 1]).
        y_train: training targets (n, T), standardised.
        x_val: validation inputs.
        y_val: validation targets.
        loss: ``"mse"`` or ``"logcosh"``.
        weight_decay: L2 penalty of the dense weights, Keras-style (the seed: 0 or 1e-5).
        batch_size: events per step (the seed: 256, 512 or 8192); a last batch
            of a single event is dropped (batch norm needs two).
        learning_rate: Adam's step size (Keras' default 1e-3).
        epochs: the most epochs.
        patience: stop after this many epochs without a lower validation loss.
        seed: seeds the initial weights and the shuffling.
        threads: torch CPU threads during the fit (None: leave as set).
        on_epoch: called after each epoch with the history entry.

    Returns:
        The fit, with the weights of the best validation epoch restored.

    Raises:
        ConfigError: bad shapes, or a non-positive setting.
    """
    import torch

    xt, yt = _as_2d(x_train, "x_train"), _as_2d(y_train, "y_train")
    xv, yv = _as_2d(x_val, "x_val"), _as_2d(y_val, "y_val")
    if len(xt) != len(yt) or len(xv) != len(yv):
        msg = f"inputs and targets differ in length: train {len(xt)} vs {len(yt)}, val {len(xv)} vs {len(yv)}"
        raise ConfigError(msg)
    if xt.shape[1] != xv.shape[1] or yt.shape[1] != yv.shape[1]:
        msg = "training and validation arrays differ in their number of columns"
        raise ConfigError(msg)
    if batch_size < 2 or epochs < 1 or patience < 1 or learning_rate <= 0 or weight_decay < 0:
        msg = (
            "training settings: expected batch_size >= 2, epochs >= 1, patience >= 1, "
            f"learning_rate > 0, weight_decay >= 0; got {batch_size}, {epochs}, {patience}, "
            f"{learning_rate}, {weight_decay}"
        )
        raise ConfigError(msg)
    loss_fn = _loss_fn(loss)
    old_threads = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        torch.manual_seed(seed)
        model = build_network(xt.shape[1], yt.shape[1], arch)
        optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)
        gen = torch.Generator().manual_seed(seed)
        tx, ty = torch.from_numpy(xt), torch.from_numpy(yt)
        vx, vy = torch.from_numpy(xv), torch.from_numpy(yv)
        history: list[dict[str, float]] = []
        best_loss, best_epoch = math.inf, 0
        best_state = copy.deepcopy(model.state_dict())
        start = time.perf_counter()
        for epoch in range(1, epochs + 1):
            model.train()
            order = torch.randperm(len(tx), generator=gen)
            total, seen = 0.0, 0
            for lo in range(0, len(order), batch_size):
                idx = order[lo : lo + batch_size]
                if len(idx) < 2:
                    continue
                optimizer.zero_grad(set_to_none=True)
                value = loss_fn(model(tx[idx]), ty[idx])
                objective = value + weight_decay * _l2_penalty(model) if weight_decay else value
                objective.backward()  # type: ignore[no-untyped-call]
                optimizer.step()
                total += float(value.detach()) * len(idx)
                seen += len(idx)
            model.eval()
            with torch.no_grad():
                pred = model(vx)
                val_loss = float(loss_fn(pred, vy))
                val_rmse = float(torch.sqrt(torch.mean((pred - vy) ** 2)))
            entry = {
                "epoch": float(epoch),
                "train_loss": total / max(seen, 1),
                "val_loss": val_loss,
                "val_rmse": val_rmse,
            }
            history.append(entry)
            if on_epoch is not None:
                on_epoch(epoch, entry)
            if val_loss < best_loss:
                best_loss, best_epoch = val_loss, epoch
                best_state = copy.deepcopy(model.state_dict())
            elif epoch - best_epoch >= patience:
                _log.debug("%s: early stop at epoch %d (best %d)", arch, epoch, best_epoch)
                break
        seconds = time.perf_counter() - start
    finally:
        torch.set_num_threads(old_threads)
    model.load_state_dict(best_state)
    model.eval()
    _log.info(
        "network %s (%s, wd %g): %d epochs, best %d, val loss %.4g, %.1f s",
        arch,
        loss,
        weight_decay,
        len(history),
        best_epoch,
        best_loss,
        seconds,
    )
    return NNFit(
        model=model,
        arch=arch,
        loss=loss,
        weight_decay=weight_decay,
        history=history,
        best_epoch=best_epoch,
        seconds=seconds,
        n_inputs=xt.shape[1],
        n_outputs=yt.shape[1],
    )
