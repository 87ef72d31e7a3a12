"""Operations per inference of the re-calibration models, from their structure (seed Table 8).

Networks are counted by :func:`l1scout.deploy.flops.count_ops`: ``macs`` are
the multiply-accumulates of the dense layers. The seed's networks
(:mod:`l1scout.tasks.recalib.nn`) on ``D = 4`` inputs and ``T = 3`` outputs:

* ``128x4`` (4 -> 128 -> 128 -> 128 -> 128 -> 3): ``4*128 + 3*128*128 + 128*3
  = 50,048`` MACs;
* ``32x3`` (4 -> 32 -> 32 -> 32 -> 3): ``4*32 + 2*32*32 + 32*3 = 2,272``.

The seed's Table 8 gives 66,432 and 3,296. Those are its section-3c formula
``H (D + N_l H + T)`` (:func:`seed_network_count`): ``128 (4 + 4*128 + 3) =
66,432`` and ``32 (4 + 3*32 + 3) = 3,296``, which counts ``N_l`` hidden-to-hidden
layers of ``H*H`` where ``N_l`` hidden layers have ``N_l - 1``: the seed's
figure is ours plus ``H*H`` (``50,048 + 16,384``, ``2,272 + 1,024``). The
operations table shows our count with the seed's figure and its formula beside it.

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
    >>> seed_network_count(128, 4, n_inputs=4, n_outputs=3), SEED_OPS["NN 128x4"]
    (66432, 66432)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from l1scout.errors import ConfigError

if TYPE_CHECKING:
    import torch

    from l1scout.deploy.flops import OpCount

__all__ = [
    "SEED_INPUTS",
    "SEED_OPS",
    "SEED_OUTPUTS",
    "OpsRow",
    "kernel_ops",
    "model_ops",
    "network_ops",
    "power_multiplications",
    "seed_figure",
    "seed_network_count",
    "seed_note",
]

#: The seed's Table 8 ("approx. flops per inference", 4 inputs, 3 outputs).
SEED_OPS: dict[str, int] = {
    "NN 128x4": 66_432,
    "NN 32x3": 3_296,
    "KRR M=500": 2_000,
    "KRR M=100": 300,
}
#: The dimensions of the seed's muon problem, D inputs and T outputs, for which Table 8 holds.
SEED_INPUTS, SEED_OUTPUTS = 4, 3


def seed_network_count(hidden: int, layers: int, *, n_inputs: int, n_outputs: int) -> int:
    """The seed's network count ``H (D + N_l H + T)`` (its section 3c, with ``S = 1``).

    A network of ``N_l`` hidden layers of ``H`` has ``D H + (N_l - 1) H^2 + H T``
    multiply-accumulates; the formula counts one ``H^2`` more.

    >>> seed_network_count(32, 3, n_inputs=4, n_outputs=3)
    3296
    """
    return hidden * (n_inputs + layers * hidden + n_outputs)


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
        seed_note: how the seed's figure was counted (:func:`seed_note`).
        dataset: the dataset the model was fitted on ("" if not given).
        inputs: D, its inputs (0 if not given).
        outputs: T, its outputs (0 if not given).
    """

    label: str
    macs: int
    flops: int
    params: int
    seed: int | None = None
    seed_note: str = ""
    dataset: str = ""
    inputs: int = 0
    outputs: int = 0


def seed_figure(kind: str, *, arch: str | None = None, centres: int | None = None) -> int | None:
    """The seed's Table 8 entry for a network architecture or a number of centres, if it has one.

    >>> seed_figure("nn", arch="128x4"), seed_figure("krr", centres=100), seed_figure("krr", centres=7)
    (66432, 300, None)
    """
    key = f"NN {arch}" if kind == "nn" else f"KRR M={centres}"
    return SEED_OPS.get(key)


def seed_note(kind: str, *, arch: str | None = None, centres: int | None = None) -> str:
    """How the seed's Table 8 figure of a structure comes about ("" where it has none).

    >>> seed_note("nn", arch="32x3")
    'H (D + N_l H + T) = 32 (4 + 3 x 32 + 3): one 32 x 32 layer more than the network has'
    >>> seed_note("krr", centres=500), seed_note("krr", centres=100)
    ('M D = 500 x 4 (kernel term only)', 'M T = 100 x 3 (product term only)')
    """
    figure = seed_figure(kind, arch=arch, centres=centres)
    if figure is None:
        return ""
    d, t = SEED_INPUTS, SEED_OUTPUTS
    if kind == "nn" and arch is not None:
        from l1scout.tasks.recalib.nn import parse_arch

        h, n = parse_arch(arch)
        if seed_network_count(h, n, n_inputs=d, n_outputs=t) == figure:
            return f"H (D + N_l H + T) = {h} ({d} + {n} x {h} + {t}): one {h} x {h} layer more than the network has"
        return ""
    if centres is not None and centres * d == figure:
        return f"M D = {centres} x {d} (kernel term only)"
    if centres is not None and centres * t == figure:
        return f"M T = {centres} x {t} (product term only)"
    return ""
