"""Set losses of the particle-set autoencoder: weighted Chamfer, entropic optimal transport, existence.

A decoder emits ``k`` slots, each a feature vector and an existence logit; the
target is a padded set with a mask. Both losses compare the two sets through
the pair cost ``C_ij = sum_f w_f (pred_if - target_jf)^2`` (:func:`pair_cost`;
``w_f`` the feature weights, default 1), over the real entries only, with a
weight per particle (default uniform; the autoencoder passes pT x PUPPI weight,
so that the hard particles that make HT and MET dominate, as the energy mover's
distance weights particles by their pT: Komiske, Metodiev, Thaler,
arXiv:1902.02346).

**Which predicted slots are real.** The slots are ordered: slot ``i`` of an
event whose target holds ``n`` particles is real when ``i < n`` (the target
sets are pT-ordered, the first ``n`` slots real), so the decoder learns to fill
its first ``n`` slots and to say so with its existence logits. The
**existence (count) term** is the mean binary cross-entropy of the ``k``
logits against ``i < n`` (:func:`existence_loss`); at decoding, the slots of
existence probability above 0.5 are kept.

**Chamfer** (:func:`chamfer_loss`)::

    chamfer = sum_j b_j min_i C_ij  +  sum_i a_i min_j C_ij

with ``a`` (predicted slots) and ``b`` (target particles) each normalised to 1
per event over the real entries; an event without particles contributes 0.

**Sinkhorn** (:func:`sinkhorn_loss`): the entropic optimal-transport cost
between the measures ``a`` and ``b`` (Cuturi, arXiv:1306.0895), computed in
the log domain for stability (Schmitzer, arXiv:1610.06519; Peyre and Cuturi,
"Computational Optimal Transport", arXiv:1803.00567, ch. 4.4)::

    f_i = -eps log sum_j b_j exp((g_j - C_ij) / eps)
    g_j = -eps log sum_i a_i exp((f_i - C_ij) / eps)
    OT_eps(a, b) = sum_i a_i f_i + sum_j b_j g_j

``iterations`` alternate updates run without gradients; one last update runs
with them, so the gradient is that of the converged dual (the envelope
theorem: dOT/dC = the transport plan, dOT/da = f), as GeomLoss does (Feydy et
al., arXiv:1810.08278), at the memory of one iteration. ``OT_eps`` exceeds the
exact transport cost by up to ``eps`` times the plan's entropy (at most
``eps ln(k)``); with ``debias=True`` the Sinkhorn divergence
``OT_eps(a, b) - OT_eps(a, a) / 2 - OT_eps(b, b) / 2`` (Feydy et al.) removes
that bias: it is 0 for identical sets. Padding is masked with a finite log-weight
of -1e4 instead of log(0), so no NaN appears.

Both return ``{"loss", "chamfer" or "sinkhorn", "existence"}``:
``loss = set term + existence_weight x existence``, each the mean over events.

Example:
    >>> import torch
    >>> x = torch.tensor([[[0.0, 0.0], [1.0, 0.0]]])
    >>> y = torch.tensor([[[0.0, 1.0], [1.0, 1.0]]])
    >>> mask = torch.ones(1, 2, dtype=torch.bool)
    >>> logits = torch.full((1, 2), 20.0)
    >>> round(float(chamfer_loss(x, logits, y, mask)["chamfer"]), 4)
    2.0
    >>> out = sinkhorn_loss(x, logits, y, mask, epsilon=0.01, iterations=200, debias=False)
    >>> round(float(out["sinkhorn"]), 3)  # the exact transport cost is 1, the bias <= 0.01 ln 2
    1.007
"""

from __future__ import annotations

import torch
from torch import nn

from l1scout.errors import ConfigError, DataFormatError

__all__ = ["chamfer_loss", "existence_loss", "pair_cost", "sinkhorn_loss", "slot_mask"]

#: A finite stand-in for log(0) of masked entries (exp of it is 0 in float32).
_LOG_ZERO = -1e4


def _check(
    pred: torch.Tensor, logits: torch.Tensor, target: torch.Tensor, mask: torch.Tensor
) -> None:
    if pred.ndim != 3 or target.ndim != 3 or pred.shape[0] != target.shape[0]:
        msg = f"set loss: expected pred [n, k, F] and target [n, m, F], got {tuple(pred.shape)} and {tuple(target.shape)}"
        raise DataFormatError(msg)
    if pred.shape[2] != target.shape[2]:
        msg = f"set loss: pred has {pred.shape[2]} features, target {target.shape[2]}"
        raise DataFormatError(msg)
    if logits.shape != pred.shape[:2] or mask.shape != target.shape[:2]:
        msg = (
            f"set loss: expected logits {tuple(pred.shape[:2])} and mask {tuple(target.shape[:2])}, "
            f"got {tuple(logits.shape)} and {tuple(mask.shape)}"
        )
        raise DataFormatError(msg)


def slot_mask(target_mask: torch.Tensor, k: int) -> torch.Tensor:
    """The real predicted slots ``[n, k]``: slot ``i`` is real when ``i`` < the event's target count.

    >>> slot_mask(torch.tensor([[True, True, False], [False, False, False]]), 4).tolist()
    [[True, True, False, False], [False, False, False, False]]
    """
    count = target_mask.sum(dim=1, keepdim=True)
    return torch.arange(k, device=target_mask.device)[None, :] < count


def existence_loss(logits: torch.Tensor, target_mask: torch.Tensor) -> torch.Tensor:
    """Mean binary cross-entropy of the existence *logits* ``[n, k]`` against :func:`slot_mask`."""
    real = slot_mask(target_mask, logits.shape[1]).to(logits.dtype)
    return nn.functional.binary_cross_entropy_with_logits(logits, real)


def pair_cost(
    pred: torch.Tensor, target: torch.Tensor, feature_weights: torch.Tensor | None = None
) -> torch.Tensor:
    """``C[e, i, j] = sum_f w_f (pred[e, i, f] - target[e, j, f])^2`` ``[n, k, m]``.

    >>> pair_cost(torch.tensor([[[0.0, 0.0]]]), torch.tensor([[[3.0, 4.0]]])).tolist()
    [[[25.0]]]
    """
    if feature_weights is not None:
        scale = feature_weights.to(pred.dtype).sqrt()
        pred, target = pred * scale, target * scale
    diff = pred.unsqueeze(2) - target.unsqueeze(1)
    return diff.square().sum(dim=-1)


def _normalised(
    weight: torch.Tensor | None, mask: torch.Tensor, dtype: torch.dtype
) -> torch.Tensor:
    """Per-event weights on the real entries, summing to 1 (0 for an event with none)."""
    w = mask.to(dtype) if weight is None else weight.to(dtype).clamp(min=0) * mask.to(dtype)
    total = w.sum(dim=1, keepdim=True)
    return torch.where(total > 0, w / total.clamp(min=1e-30), torch.zeros_like(w))


def chamfer_loss(
    pred: torch.Tensor,
    pred_mask_logits: torch.Tensor,
    target: torch.Tensor,
    target_mask: torch.Tensor,
    *,
    pred_weight: torch.Tensor | None = None,
    target_weight: torch.Tensor | None = None,
    feature_weights: torch.Tensor | None = None,
    existence_weight: float = 1.0,
) -> dict[str, torch.Tensor]:
    """The weighted Chamfer distance plus the existence term (module docstring).

    Args:
        pred: decoded slots ``[n, k, F]``.
        pred_mask_logits: their existence logits ``[n, k]``.
        target: target sets ``[n, m, F]`` (padding anywhere the mask is False).
        target_mask: bool ``[n, m]``.
        pred_weight: per-slot weights ``[n, k]`` (>= 0; default uniform),
            normalised per event over the real slots.
        target_weight: per-particle weights ``[n, m]``, likewise.
        feature_weights: ``[F]`` weights of the pair cost (default 1).
        existence_weight: weight of the existence term in ``loss``.

    Raises:
        DataFormatError: inconsistent shapes.
    """
    _check(pred, pred_mask_logits, target, target_mask)
    real_pred = slot_mask(target_mask, pred.shape[1])
    cost = pair_cost(pred, target, feature_weights)
    big = torch.finfo(cost.dtype).max / 4
    # target -> nearest real predicted slot; predicted slot -> nearest real target
    to_pred = cost.masked_fill(~real_pred.unsqueeze(2), big).min(dim=1).values
    to_target = cost.masked_fill(~target_mask.unsqueeze(1), big).min(dim=2).values
    a = _normalised(pred_weight, real_pred, cost.dtype)
    b = _normalised(target_weight, target_mask, cost.dtype)
    zero = torch.zeros((), dtype=cost.dtype)
    term = (b * torch.where(target_mask, to_pred, zero)).sum(1) + (
        a * torch.where(real_pred, to_target, zero)
    ).sum(1)
    chamfer = term.mean()
    exist = existence_loss(pred_mask_logits, target_mask)
    return {"loss": chamfer + existence_weight * exist, "chamfer": chamfer, "existence": exist}


def _log_weights(w: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return torch.where(mask & (w > 0), w.clamp(min=1e-30).log(), torch.full_like(w, _LOG_ZERO))


def _ot(
    cost: torch.Tensor,
    a: torch.Tensor,
    b: torch.Tensor,
    mask_a: torch.Tensor,
    mask_b: torch.Tensor,
    epsilon: float,
    iterations: int,
) -> torch.Tensor:
    """Entropic OT value per event, ``OT_eps(a, b)`` ``[n]`` (log-domain Sinkhorn, module docstring)."""
    log_a, log_b = _log_weights(a, mask_a), _log_weights(b, mask_b)
    c = cost / epsilon

    def update_f(g: torch.Tensor, c_: torch.Tensor) -> torch.Tensor:
        return -epsilon * torch.logsumexp(g.unsqueeze(1) / epsilon - c_ + log_b.unsqueeze(1), dim=2)

    def update_g(f: torch.Tensor, c_: torch.Tensor) -> torch.Tensor:
        return -epsilon * torch.logsumexp(f.unsqueeze(2) / epsilon - c_ + log_a.unsqueeze(2), dim=1)

    with torch.no_grad():
        cd = c.detach()
        g = torch.zeros_like(b)
        f = update_f(g, cd)
        for _ in range(iterations):
            g = update_g(f, cd)
            f = update_f(g, cd)
    # the last update with gradients (envelope theorem)
    g = update_g(f.detach(), c)
    f = update_f(g, c)
    fa = torch.where(mask_a, a * f, torch.zeros_like(f))
    gb = torch.where(mask_b, b * g, torch.zeros_like(g))
    return fa.sum(1) + gb.sum(1)


def sinkhorn_loss(
    pred: torch.Tensor,
    pred_mask_logits: torch.Tensor,
    target: torch.Tensor,
    target_mask: torch.Tensor,
    *,
    pred_weight: torch.Tensor | None = None,
    target_weight: torch.Tensor | None = None,
    feature_weights: torch.Tensor | None = None,
    epsilon: float = 0.05,
    iterations: int = 50,
    debias: bool = True,
    existence_weight: float = 1.0,
) -> dict[str, torch.Tensor]:
    """Entropic optimal-transport cost (or Sinkhorn divergence) plus the existence term (module docstring).

    Args:
        pred: decoded slots ``[n, k, F]``.
        pred_mask_logits: their existence logits ``[n, k]``.
        target: target sets ``[n, m, F]``.
        target_mask: bool ``[n, m]``.
        pred_weight: per-slot weights (default uniform), as :func:`chamfer_loss`.
        target_weight: per-particle weights (default uniform).
        feature_weights: ``[F]`` weights of the pair cost (default 1).
        existence_weight: weight of the existence term in ``loss``.
        epsilon: the entropic regularisation, in units of the pair cost (> 0).
        iterations: Sinkhorn iterations (>= 1).
        debias: return the Sinkhorn divergence (0 for identical sets) instead of ``OT_eps``.

    Raises:
        DataFormatError: inconsistent shapes.
        ConfigError: *epsilon* <= 0 or *iterations* < 1.
    """
    _check(pred, pred_mask_logits, target, target_mask)
    if not epsilon > 0 or iterations < 1:
        msg = f"sinkhorn: expected epsilon > 0 and iterations >= 1, got {epsilon} and {iterations}"
        raise ConfigError(msg)
    real_pred = slot_mask(target_mask, pred.shape[1])
    a = _normalised(pred_weight, real_pred, pred.dtype)
    b = _normalised(target_weight, target_mask, pred.dtype)
    cost = pair_cost(pred, target, feature_weights)
    value = _ot(cost, a, b, real_pred, target_mask, epsilon, iterations)
    if debias:
        c_aa = pair_cost(pred, pred, feature_weights)
        c_bb = pair_cost(target, target, feature_weights)
        self_a = _ot(c_aa, a, a, real_pred, real_pred, epsilon, iterations)
        self_b = _ot(c_bb, b, b, target_mask, target_mask, epsilon, iterations)
        value = value - 0.5 * self_a - 0.5 * self_b
    has = target_mask.any(dim=1)
    ot = torch.where(has, value, torch.zeros_like(value)).mean()
    exist = existence_loss(pred_mask_logits, target_mask)
    return {"loss": ot + existence_weight * exist, "sinkhorn": ot, "existence": exist}
