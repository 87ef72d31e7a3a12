"""Array type aliases shared by every module (one home; import them, do not redefine them)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["F32", "F64", "I32", "I64", "B"]

#: float64 array
F64 = npt.NDArray[np.float64]
#: float32 array
F32 = npt.NDArray[np.float32]
#: int64 array (offsets, indices)
I64 = npt.NDArray[np.int64]
#: int32 array
I32 = npt.NDArray[np.int32]
#: boolean array (masks)
B = npt.NDArray[np.bool_]
