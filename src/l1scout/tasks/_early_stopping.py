"""Early stopping on a validation loss, with the best epoch's weights kept (shared by the tasks' trainings).

:class:`EarlyStopping` watches one validation loss per epoch: an epoch that
improves the best loss by more than ``min_delta`` keeps a copy of the weights;
``patience`` epochs in a row without one stop the training; ``restore``
puts the best weights back (and refuses a training whose validation loss was
never finite).

>>> import torch
>>> net = torch.nn.Linear(1, 1)
>>> stop = EarlyStopping(patience=2, min_delta=0.0, max_epochs=10)
>>> [stop.step(epoch, loss, net) for epoch, loss in enumerate([3.0, 2.0, 2.5, 2.1])]
[False, False, False, True]
>>> stop.best_epoch, stop.stopped_early
(1, True)
"""

from __future__ import annotations

import copy
import math
from typing import Any

from l1scout.errors import L1ScoutError

__all__ = ["EarlyStopping"]


class EarlyStopping:
    """Best-epoch tracking and the stop decision of one training (module docstring).

    Attributes:
        best: the best validation loss so far (inf before the first finite one).
        best_epoch: the epoch of ``best`` (0 before any).
        stopped_early: whether :meth:`step` stopped before ``max_epochs``.
    """

    def __init__(self, *, patience: int, min_delta: float, max_epochs: int) -> None:
        self.patience = patience
        self.min_delta = min_delta
        self.max_epochs = max_epochs
        self.best = math.inf
        self.best_epoch = 0
        self.stopped_early = False
        self._since = 0
        self._state: dict[str, Any] | None = None

    def step(self, epoch: int, val_loss: float, model: Any) -> bool:
        """Record *epoch*'s validation loss (keeping *model*'s weights if best); True: stop now."""
        if self._state is None:
            self._state = copy.deepcopy(model.state_dict())
        if math.isfinite(val_loss) and val_loss < self.best - self.min_delta:
            self.best, self.best_epoch, self._since = val_loss, epoch, 0
            self._state = copy.deepcopy(model.state_dict())
            return False
        self._since += 1
        if self._since >= self.patience:
            self.stopped_early = epoch < self.max_epochs - 1
            return True
        return False

    def restore(self, model: Any, learning_rate_field: str, learning_rate: float) -> None:
        """Load the best epoch's weights into *model* and put it in eval mode.

        Raises:
            L1ScoutError: no finite validation loss (naming the learning-rate
                field to lower).
        """
        if not math.isfinite(self.best) or self._state is None:
            msg = (
                "training diverged: no finite validation loss; "
                f"try a lower {learning_rate_field} (now {learning_rate})"
            )
            raise L1ScoutError(msg)
        model.load_state_dict(self._state)
        model.eval()
