"""Operations per inference of the re-calibration models, from their structure (seed Table 8).

Networks are counted by :func:`l1scout.deploy.flops.count_ops`: ``macs`` are
the multiply-accumulates of the dense layers, the convention of the seed's
Table 8 (``128x4``: 66,432; ``32x3``: 3,296, reproduced exactly).

Kernel models (:class:`~l1scout.tasks.recalib.krr.KernelModel`, ``M`` centres,
``d`` inputs, ``T`` outputs) are counted by formula, one event, as an FPGA
would evaluate ``f(x) = sum_j alpha_j k(x, c_j)`` (seed Figure 9):

* Gaussian, per centre: ``d`` subtractions, ``d`` squares, ``d - 1`` additions
  (the squared distance), one multiplication by ``-1 / (2 sigma^2)`` and one
  exponential: ``3d + 1`` operations;
* linear, per centre: ``d`` multiplications and ``d - 1`` additions (``x.c``),
  one multiplication by ``1 / sigma^2``, one addition of ``beta``: ``2d + 1``;
* polynomial of degree ``p``, per centre: the ``2d - 1`` of ``x.c``, one
  multiplication by the scale, one addition of ``beta`` and the power by
  repeated squaring, ``floor(log2 p) + popcount(p) - 1`` multiplications
  (``p = 5``: 3);
* then the matrix product with ``alpha``: per output ``M`` multiplications and
  ``M - 1`` additions, plus one addition for a bias.

``flops`` is the sum of all of these (an exponential counts as one operation);
``macs`` is ``M d + M T``: the ``d`` multiply-accumulates of the distance or
dot product per centre and the ``M T`` of the product; ``params`` is
``M d + M T`` (+ ``T`` with a bias).

The seed's Table 8 gives "Falkon M=500: 2000" and "Falkon M=100: 300" for
``d = 4``, ``T = 3``. No single formula gives both: ``2000 = M d`` at
``M = 500`` (the kernel term) while ``300 = M T`` at ``M = 100`` (the
``O(S M T)`` product term its section 3d names). Our ``macs`` counts both
terms (3,500 and 700); the report shows the seed's figure beside ours.
Note that a linear-kernel model is algebraically a linear function of ``x``
(``d T`` MACs after folding ``alpha`` into the centres); it is counted here
as built, kernel + product, which is what is exported.

Example:
    >>> ops = kernel_ops("gaussian", n_inputs=4, centres=100, n_outputs=3)
    >>> ops.macs, ops.flops, ops.params
    (700, 1897, 700)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from l1scout.errors import ConfigError

if TYPE_CHECKING:
    import torch

    from l1scout.deploy.flops import OpCount

__all__ = [
    "SEED_OPS",
    "OpsRow",
    "kernel_ops",
    "model_ops",
    "network_ops",
    "power_multiplications",
    "seed_figure",
]

#: The seed's Table 8 ("approx. flops per inference", 4 inputs, 3 outputs).
SEED_OPS: dict[str, int] = {
    "NN 128x4": 66_432,
    "NN 32x3": 3_296,
    "KRR M=500": 2_000,
    "KRR M=100": 300,
}


def power_multiplications(degree: int) -> int:
    """Multiplications of ``z**degree`` by repeated squaring.

    >>> [power_multiplications(p) for p in (1, 2, 3, 4, 5, 8)]
    [0, 1, 2, 2, 3, 3]
    """
    if degree < 1:
        msg = f"polynomial degree: expected >= 1, got {degree}"
        raise ConfigError(msg)
    return degree.bit_length() - 1 + bin(degree).count("1") - 1


def kernel_ops(
    kernel: str,
    *,
    n_inputs: int,
    centres: int,
    n_outputs: int,
    degree: int = 2,
    bias: bool = False,
) -> OpCount:
    """Operations of one inference of a Nystrom kernel model (see the module docstring)."""
    from l1scout.deploy.flops import OpCount

    d, m, t = n_inputs, centres, n_outputs
    if min(d, m, t) < 1:
        msg = f"kernel model: expected d, M, T >= 1, got {d}, {m}, {t}"
        raise ConfigError(msg)
    if kernel == "gaussian":
        per_centre = 3 * d + 1
    elif kernel == "linear":
        per_centre = 2 * d + 1
    elif kernel == "polynomial":
        per_centre = 2 * d + 1 + power_multiplications(degree)
    else:
        msg = f"kernel {kernel!r}: expected 'gaussian', 'linear' or 'polynomial'"
        raise ConfigError(msg)
    product = t * (2 * m - 1) + (t if bias else 0)
    return OpCount(
        macs=m * d + m * t,
        flops=m * per_centre + product,
        params=m * d + m * t + (t if bias else 0),
    )


def network_ops(model: torch.nn.Module, n_inputs: int) -> OpCount:
    """:func:`l1scout.deploy.flops.count_ops` of a network."""
    from l1scout.deploy.flops import count_ops

    return count_ops(model, n_inputs)


def model_ops(model: torch.nn.Module, n_inputs: int) -> OpCount:
    """Operations of a re-calibration model: kernel models by formula, networks by their layers."""
    from l1scout.tasks.recalib.krr import KernelModel

    if isinstance(model, KernelModel):
        return kernel_ops(
            model.params.kernel,
            n_inputs=model.n_inputs,
            centres=model.n_centres,
            n_outputs=model.n_outputs,
            degree=model.params.degree,
            bias=model.has_bias,
        )
    return network_ops(model, n_inputs)


@dataclass(frozen=True)
class OpsRow:
    """One row of the operations table.

    Attributes:
        label: the model's row label.
        macs: multiply-accumulates per inference.
        flops: all floating-point operations per inference.
        params: stored numbers (weights, biases, centres, coefficients).
        seed: the seed's Table 8 figure for this structure (None: not in the seed).
    """

    label: str
    macs: int
    flops: int
    params: int
    seed: int | None = None


def seed_figure(kind: str, *, arch: str | None = None, centres: int | None = None) -> int | None:
    """The seed's Table 8 entry for a network architecture or a number of centres, if it has one.

    >>> seed_figure("nn", arch="128x4"), seed_figure("krr", centres=100), seed_figure("krr", centres=7)
    (66432, 300, None)
    """
    key = f"NN {arch}" if kind == "nn" else f"KRR M={centres}"
    return SEED_OPS.get(key)
