"""Physics augmentations of the 57 trigger inputs, for self-supervised (VICReg) training.

The 2025 anomaly trigger (AXOL1TL v5, ``docs/physics/l1-algorithms.md`` and
the NGT WP 3.7 report of 2025) learns an embedding that does not change under what the
detector could have done to the same collision: Gaussian smearing within the
reconstruction resolution, losing objects, and rotating the whole event in
azimuth (physics is symmetric in phi). These functions apply them to a batch of
PHYSICAL inputs (before the scaler) laid out as
:mod:`l1scout.io.trigger_inputs` writes them: 19 objects x (pT [GeV], eta, phi
[rad]) = [MET, 4 e/gamma, 4 muons, 10 jets], each group pT-sorted and padded
with zeros.

Rules common to all of them:

* a padded object (pT == 0) is never touched: it stays exactly (0, 0, 0);
* phi is wrapped into [-pi, pi) after every change;
* the MET's eta stays 0;
* randomness comes only from the ``generator`` argument (a
  :class:`torch.Generator`), so a seeded generator repeats the augmentation.

:func:`augment` chains them as configured by
:class:`~l1scout.tasks.anomaly.config.AugmentConfig`: smear, mask, re-sort each
group by pT (dropped objects move to the end of their group, so the view keeps
the trigger's "pT-sorted, padding last" layout), rotate.

Example:
    >>> import torch
    >>> x = torch.zeros(1, 57)
    >>> x[0, 27:33] = torch.tensor([50.0, 0.5, 3.0, 20.0, -1.0, -3.0])  # two jets
    >>> y = rotate(x, torch.tensor([0.5]))
    >>> [round(v, 4) for v in y[0, 27:33].tolist()]
    [50.0, 0.5, -2.7832, 20.0, -1.0, -2.5]
    >>> bool(torch.equal(y[0, 33:], x[0, 33:]))
    True
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from l1scout.errors import DataFormatError
from l1scout.io.trigger_inputs import N_TRIGGER_INPUTS, TRIGGER_OBJECTS
from l1scout.tasks.anomaly.config import AugmentConfig, Resolution

if TYPE_CHECKING:
    import torch

__all__ = [
    "GROUP_SLICES",
    "augment",
    "mask_objects",
    "rotate",
    "smear",
    "sort_groups",
    "wrap_phi",
]

#: (group name, first object index, number of objects) of the 19 trigger objects.
GROUP_SLICES: tuple[tuple[str, int, int], ...] = tuple(
    (name, sum(n for _, n in TRIGGER_OBJECTS[:i]), count)
    for i, (name, count) in enumerate(TRIGGER_OBJECTS)
)
_N_OBJECTS = N_TRIGGER_INPUTS // 3
#: A smeared pT never falls below this fraction of the original (a real object stays real).
MIN_PT_FACTOR = 0.05


def _objects(x: torch.Tensor) -> torch.Tensor:
    """*x* (n, 57) as a (n, 19, 3) view, after checking the shape."""
    if x.ndim != 2 or x.shape[1] != N_TRIGGER_INPUTS:
        msg = f"expected trigger inputs of shape (n, {N_TRIGGER_INPUTS}), got {tuple(x.shape)}"
        raise DataFormatError(msg)
    return x.reshape(x.shape[0], _N_OBJECTS, 3)


def wrap_phi(phi: torch.Tensor) -> torch.Tensor:
    """Azimuth wrapped into [-pi, pi) (rad).

    >>> import torch
    >>> [round(v, 4) for v in wrap_phi(torch.tensor([4.0, -4.0, 1.0])).tolist()]
    [-2.2832, 2.2832, 1.0]
    """
    import torch

    two_pi = 2 * math.pi
    out = torch.remainder(phi + math.pi, two_pi) - math.pi
    # float rounding can land exactly on +pi; fold it onto -pi
    return torch.where(out >= math.pi, out - two_pi, out)


def rotate(x: torch.Tensor, angle: torch.Tensor) -> torch.Tensor:
    """Rotate each event by its own azimuth: ``phi -> wrap(phi + angle)`` for every real object.

    Args:
        x: physical inputs (n, 57).
        angle: rotation angle per event (n,) in rad.

    Returns:
        A new tensor; pT, eta and padded objects are unchanged.
    """
    import torch

    obj = _objects(x).clone()
    real = obj[..., 0] != 0
    turned = wrap_phi(obj[..., 2] + angle.to(obj.dtype).reshape(-1, 1))
    obj[..., 2] = torch.where(real, turned, obj[..., 2])
    return obj.reshape(x.shape)


def _widths(cfg: AugmentConfig, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """The (19, 3) smearing widths: relative pT, eta, phi per object."""
    import torch

    per_group: dict[str, Resolution] = {
        "MET": cfg.met,
        "EGamma": cfg.egamma,
        "Muon": cfg.muon,
        "Jet": cfg.jet,
    }
    rows: list[list[float]] = []
    for name, _, count in GROUP_SLICES:
        res = per_group[name]
        rows.extend([[res.pt, res.eta, res.phi]] * count)
    return torch.tensor(rows, device=device, dtype=dtype)


def smear(
    x: torch.Tensor, cfg: AugmentConfig, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Gaussian smearing of every real object within its resolution.

    ``pT -> pT * max(1 + s_pT * N(0, 1), MIN_PT_FACTOR)``,
    ``eta -> eta + s_eta * N(0, 1)``, ``phi -> wrap(phi + s_phi * N(0, 1))``,
    independently per object, with the widths of its type in *cfg*
    (``met``, ``egamma``, ``muon``, ``jet``). The floor on the pT factor keeps a
    real object from turning into padding (with the default widths it is
    reached with probability below 1e-6).

    Args:
        x: physical inputs (n, 57).
        cfg: the widths (``cfg.smear`` is not consulted here).
        generator: the source of the normal draws.
    """
    import torch

    obj = _objects(x)
    widths = _widths(cfg, obj.device, obj.dtype)
    noise = torch.randn(obj.shape, generator=generator, device=obj.device, dtype=obj.dtype)
    noise = noise * widths
    real = (obj[..., 0] != 0).unsqueeze(-1)
    pt = obj[..., 0] * torch.clamp(1.0 + noise[..., 0], min=MIN_PT_FACTOR)
    eta = obj[..., 1] + noise[..., 1]
    phi = wrap_phi(obj[..., 2] + noise[..., 2])
    out = torch.where(real, torch.stack([pt, eta, phi], dim=-1), obj)
    return out.reshape(x.shape)


def mask_objects(
    x: torch.Tensor,
    probability: float,
    generator: torch.Generator | None = None,
    *,
    mask_met: bool = False,
) -> torch.Tensor:
    """Drop each real object with *probability*: its pT, eta and phi become 0 (padding).

    The groups are NOT re-sorted here: a dropped object leaves a hole in its
    group (see :func:`sort_groups`). The MET (object 0) is kept unless *mask_met*.

    Args:
        x: physical inputs (n, 57).
        probability: drop probability per object, in [0, 1].
        generator: the source of the uniform draws.
        mask_met: let the MET be dropped too.
    """
    import torch

    obj = _objects(x)
    drop = torch.rand(obj.shape[:2], generator=generator, device=obj.device) < probability
    if not mask_met:
        drop[:, 0] = False
    out = torch.where(drop.unsqueeze(-1), torch.zeros_like(obj), obj)
    return out.reshape(x.shape)


def sort_groups(x: torch.Tensor) -> torch.Tensor:
    """Re-sort the objects of each group (e/gamma, muons, jets) by decreasing pT, padding last.

    Stable: objects of equal pT keep their order. The MET group has one object.
    """
    import torch

    obj = _objects(x)
    parts = []
    for _, first, count in GROUP_SLICES:
        group = obj[:, first : first + count]
        if count > 1:
            order = torch.sort(group[..., 0], dim=1, descending=True, stable=True).indices
            group = torch.gather(group, 1, order.unsqueeze(-1).expand(-1, -1, 3))
        parts.append(group)
    return torch.cat(parts, dim=1).reshape(x.shape)


def augment(
    x: torch.Tensor, cfg: AugmentConfig, generator: torch.Generator | None = None
) -> torch.Tensor:
    """One random view of each event: smear, mask, re-sort, rotate, as *cfg* says.

    Args:
        x: physical inputs (n, 57), float.
        cfg: which augmentations, and their sizes.
        generator: the only source of randomness (seed it to repeat a view).

    Returns:
        A new (n, 57) tensor of the dtype of *x*.

    >>> import torch
    >>> from l1scout.tasks.anomaly.config import AugmentConfig
    >>> x = torch.zeros(2, 57)
    >>> x[:, 27:30] = torch.tensor([40.0, 1.0, 0.5])
    >>> g = torch.Generator().manual_seed(3)
    >>> y = augment(x, AugmentConfig(mask_probability=0.0), g)
    >>> bool((y[:, 27] > 0).all()), bool((y[:, 30:] == 0).all())
    (True, True)
    """
    import torch

    out = x
    if cfg.smear:
        out = smear(out, cfg, generator)
    if cfg.mask_probability > 0:
        out = mask_objects(out, cfg.mask_probability, generator, mask_met=cfg.mask_met)
    if cfg.resort:
        out = sort_groups(out)
    if cfg.rotate:
        u = torch.rand(out.shape[0], generator=generator, device=out.device, dtype=out.dtype)
        out = rotate(out, (2 * u - 1) * math.pi)
    return out if out is not x else x.clone()
