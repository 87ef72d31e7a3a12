"""The FPGA-friendly scalers: power-of-two constants, percentiles, ignored entries, files."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from l1scout.errors import ConfigError
from l1scout.io.scalers import (
    PowerOfTwoRobustScaler,
    StandardScaler,
    power_of_two_shift,
    zero_pt_mask,
)
from l1scout.io.trigger_inputs import trigger_input_names


def _trigger_like(rng: np.random.Generator, n: int, absent: float = 0.4) -> np.ndarray:
    """(n, 57) inputs: 19 objects x (pT, eta, phi), a fraction of them zero-padded."""
    pt = rng.lognormal(3.0, 0.8, (n, 19))
    eta = rng.uniform(-2.5, 2.5, (n, 19))
    eta[:, 0] = 0.0  # MET
    phi = rng.uniform(-math.pi, math.pi, (n, 19))
    x = np.stack([pt, eta, phi], axis=-1)
    x[rng.random((n, 19)) < absent] = 0.0
    return x.reshape(n, 57).astype(np.float32)


def _reference_robust(values: np.ndarray, lsb: float = 1.0) -> tuple[float, int]:
    """Offset and shift by the definition, searching the shift by brute force."""
    low, high = np.percentile(values, [5, 95])
    offset = round((low + high) / 2 / lsb) * lsb
    half = max(high - offset, offset - low)
    if half == 0:
        return offset, 0
    fits = [n for n in range(-60, 60) if half * 2.0**n <= 2.0]
    return offset, max(fits)


def test_power_of_two_shift() -> None:
    assert power_of_two_shift(2.0) == 0
    assert power_of_two_shift(2.0000001) == -1
    assert power_of_two_shift(1.0) == 1
    assert power_of_two_shift(0.9999) == 1
    assert power_of_two_shift(1e-3) == 10
    assert power_of_two_shift(0.0) == 0
    for half in np.random.default_rng(0).lognormal(0, 6, 500):
        n = power_of_two_shift(float(half))
        assert half * 2.0**n <= 2.0 < half * 2.0 ** (n + 1)


def test_robust_constants_are_powers_of_two_and_reproduce_percentiles() -> None:
    rng = np.random.default_rng(1)
    x = _trigger_like(rng, 20_000)
    s = PowerOfTwoRobustScaler(object_size=3, feature_names=trigger_input_names()).fit(x)
    mantissa, _ = np.frexp(s.scale)
    assert (mantissa == 0.5).all()  # exact powers of two
    np.testing.assert_array_equal(s.scale, 2.0 ** s.shift.astype(float))
    assert (s.offset == np.round(s.offset)).all()
    y = s.transform(x)
    present = ~zero_pt_mask(x, 3)
    for j in range(57):
        values = x[present[:, j], j].astype(np.float64)
        offset, shift = _reference_robust(values)
        assert (s.offset[j], s.shift[j]) == (offset, shift), trigger_input_names()[j]
        if j == 1:  # MET eta: always 0
            assert (s.offset[j], s.shift[j]) == (0.0, 0)
            continue
        low, high = np.percentile(values, [5, 95])
        assert (s.low[j], s.high[j]) == (low, high)
        # the 5-95 % range of the data lands in [-2, 2] ...
        y_low, y_high = np.percentile(y[present[:, j], j].astype(np.float64), [5, 95])
        assert -2.0 <= y_low < y_high <= 2.0
        # ... uses more than half of it (the farther end beyond 1) ...
        assert max(abs(y_low), abs(y_high)) > 1.0
        # ... so the scale is the tightest power of two: twice it leaves [-2, 2]
        assert max(abs(low - offset), abs(high - offset)) * 2.0 ** (shift + 1) > 2.0
        # and, offsets being near the midpoint, the range spans nearly the full width
        assert y_high - y_low > 2.0 - s.scale[j]
    assert s.counts[0] == present[:, 0].sum()


def test_robust_offset_rounding_to_a_fixed_point_step() -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(0.3, 0.05, (5000, 1))
    coarse = PowerOfTwoRobustScaler().fit(x)
    fine = PowerOfTwoRobustScaler(offset_lsb=2.0**-6).fit(x)
    mid = (fine.low[0] + fine.high[0]) / 2
    assert coarse.offset[0] == 0.0
    assert fine.offset[0] == round(mid * 64) / 64
    assert abs(fine.offset[0] - mid) <= 2.0**-7
    assert (fine.offset[0] * 64).is_integer()
    for s in (coarse, fine):
        half = max(s.high[0] - s.offset[0], s.offset[0] - s.low[0])
        assert 1.0 < half * s.scale[0] <= 2.0


def test_robust_transform_is_subtract_and_shift_on_fixed_point_inputs() -> None:
    """On inputs on a fixed-point grid, the result equals integer subtract, then shift."""
    rng = np.random.default_rng(3)
    hw_pt = rng.integers(0, 2**11, (3000, 1))  # L1 jets: hwPt in 0.5 GeV steps
    x = hw_pt * 0.5
    s = PowerOfTwoRobustScaler(offset_lsb=0.5).fit(x)
    y = s.transform(x)
    diff = hw_pt[:, 0] - int(s.offset[0] / 0.5)  # integer subtraction in hardware units
    want = np.ldexp(diff * 0.5, int(s.shift[0]))  # then a shift
    np.testing.assert_array_equal(y[:, 0], want.astype(np.float32))
    np.testing.assert_allclose(s.inverse_transform(y), x)


def test_zero_pt_objects_are_ignored_when_fitting() -> None:
    rng = np.random.default_rng(4)
    full = _trigger_like(rng, 4000, absent=0.0)
    padded = np.concatenate([full, np.zeros((9000, 57), np.float32)])
    rng.shuffle(padded)
    partly = padded.copy()
    partly[:, 27:30] = 0.0  # every leading jet missing: that feature has no entries at all
    a = PowerOfTwoRobustScaler(object_size=3).fit(full)
    b = PowerOfTwoRobustScaler(object_size=3).fit(padded)
    for name in ("offset", "shift", "low", "high", "counts"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    c = PowerOfTwoRobustScaler(object_size=3).fit(partly)
    assert (
        c.offset[27:30].tolist() == c.shift[27:30].tolist() == c.counts[27:30].tolist() == [0] * 3
    )
    np.testing.assert_array_equal(c.offset[30:], a.offset[30:])
    # without the zero-pT rule the padding pulls the percentiles to 0
    d = PowerOfTwoRobustScaler().fit(padded)
    assert d.low[3] == 0.0 != a.low[3]
    # the same through an explicit ignore mask
    e = PowerOfTwoRobustScaler().fit(padded, ignore=zero_pt_mask(padded, 3))
    np.testing.assert_array_equal(e.offset, a.offset)
    np.testing.assert_array_equal(e.shift, a.shift)


def test_pad_value_choice() -> None:
    rng = np.random.default_rng(5)
    x = _trigger_like(rng, 3000)
    plain = PowerOfTwoRobustScaler(object_size=3).fit(x)
    zeros = PowerOfTwoRobustScaler(object_size=3, pad_value=0.0).fit(x)
    np.testing.assert_array_equal(plain.offset, zeros.offset)
    pad = zero_pt_mask(x, 3)
    y_plain, y_zero = plain.transform(x), zeros.transform(x)
    np.testing.assert_array_equal(y_zero[pad], 0.0)
    np.testing.assert_array_equal(y_zero[~pad], y_plain[~pad])
    # by default a padded entry is scaled like any other: its pT is the image of pT = 0
    np.testing.assert_array_equal(
        y_plain[pad], np.broadcast_to(-plain.offset * plain.scale, x.shape)[pad].astype(np.float32)
    )
    back = zeros.inverse_transform(y_zero, ignore=pad)
    np.testing.assert_array_equal(back[pad], 0.0)
    np.testing.assert_allclose(back, x, rtol=1e-6, atol=1e-5)  # float32 of (x - offset)


def test_particle_sets_with_a_mask() -> None:
    rng = np.random.default_rng(6)
    feats = rng.normal([10.0, 0.0, 1.0], [3.0, 1.5, 0.2], (500, 16, 3))
    mask = rng.random((500, 16)) < 0.6
    feats[~mask] = 0.0
    for cls in (PowerOfTwoRobustScaler, StandardScaler):
        masked = cls().fit(feats, ignore=~mask)
        flat = cls().fit(feats[mask])
        for name in ("offset", "shift", "mean", "std"):
            if hasattr(flat, name):
                np.testing.assert_allclose(getattr(masked, name), getattr(flat, name), rtol=1e-12)
        y = masked.transform(feats)
        assert y.shape == feats.shape
        assert y.dtype == np.float32
        np.testing.assert_allclose(
            masked.inverse_transform(y)[mask], feats[mask], rtol=1e-5, atol=1e-5
        )


def test_standard_scaler_against_numpy() -> None:
    rng = np.random.default_rng(7)
    x = rng.normal([5.0, -2.0, 0.0], [2.0, 0.5, 1.0], (4000, 3))
    x[:, 2] = 7.0  # constant: std 1
    ignore = rng.random(x.shape) < 0.3
    s = StandardScaler().fit(x, ignore=ignore)
    for j in range(3):
        v = x[~ignore[:, j], j]
        assert s.mean[j] == pytest.approx(v.mean(), rel=1e-12)
        assert s.std[j] == pytest.approx(v.std() if j < 2 else 1.0, rel=1e-12)
        assert s.counts[j] == v.size
    y = s.transform(x)
    np.testing.assert_allclose(y[:, :2].mean(axis=0), 0, atol=0.05)
    np.testing.assert_allclose(s.inverse_transform(y), x, rtol=1e-6, atol=1e-6)
    empty = StandardScaler().fit(x, ignore=np.ones(x.shape, bool))
    assert (empty.mean.tolist(), empty.std.tolist()) == ([0.0] * 3, [1.0] * 3)


@pytest.mark.parametrize("cls", [PowerOfTwoRobustScaler, StandardScaler])
def test_save_load_round_trip(
    cls: type[PowerOfTwoRobustScaler | StandardScaler], tmp_path: Path
) -> None:
    rng = np.random.default_rng(8)
    x = _trigger_like(rng, 2000)
    s = cls(object_size=3, pad_value=0.0, feature_names=trigger_input_names()).fit(x)
    path = s.save(tmp_path / "sub" / "scaler.json")
    assert [p.name for p in path.parent.iterdir()] == ["scaler.json"]  # no temporary left
    data = json.loads(path.read_text())
    assert data["kind"] == cls.__name__
    assert data["feature_names"][0] == "L1T_MET_PT"
    t = cls.load(path)
    for name in ("offset", "shift", "low", "high", "mean", "std", "counts"):
        if hasattr(s, name):
            np.testing.assert_array_equal(getattr(t, name), getattr(s, name))
    assert t.settings == s.settings
    np.testing.assert_array_equal(t.transform(x), s.transform(x))
    with pytest.raises(ConfigError, match="57 features"):
        t.transform(x[:, :30])


def _robust_file(tmp_path: Path) -> tuple[Path, dict[str, object]]:
    x = np.random.default_rng(9).normal(10, 2, (200, 3))
    path = PowerOfTwoRobustScaler(offset_lsb=0.25).fit(x).save(tmp_path / "r.json")
    return path, json.loads(path.read_text())


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"shift": [1, 2.5, 0]}, r"shift\[1\]"),
        ({"offset": [10.0, 10.1, 10.0]}, r"offset\[1\]"),
        ({"low": [1.0, 2.0]}, "one value per feature"),
        ({"kind": "StandardScaler"}, "kind"),
        ({"version": 2}, "version"),
        ({"offset_lsb": 0.3}, "offset_lsb"),
        ({"quantiles": [95, 5]}, "quantiles"),
        ({"object_size": 2}, "object_size"),
        ({"feature_names": ["a"]}, "one value per feature"),
        ({"colour": "red"}, "colour"),
        ({"counts": None}, "counts"),
    ],
)
def test_load_rejects_malformed_files(
    change: dict[str, object], message: str, tmp_path: Path
) -> None:
    path, data = _robust_file(tmp_path)
    path.write_text(json.dumps({**data, **change}))
    with pytest.raises(ConfigError, match=message) as err:
        PowerOfTwoRobustScaler.load(path)
    assert str(path) in str(err.value)


def test_load_errors(tmp_path: Path) -> None:
    path, data = _robust_file(tmp_path)
    with pytest.raises(ConfigError, match="cannot read"):
        PowerOfTwoRobustScaler.load(tmp_path / "missing.json")
    path.write_text("{not json")
    with pytest.raises(ConfigError, match="not a valid JSON"):
        PowerOfTwoRobustScaler.load(path)
    del data["offset"]
    path.write_text(json.dumps(data))
    with pytest.raises(ConfigError, match="offset"):
        PowerOfTwoRobustScaler.load(path)
    std = StandardScaler().fit(np.ones((5, 2))).to_dict()
    path.write_text(json.dumps({**std, "std": [1.0, 0.0]}))
    with pytest.raises(ConfigError, match=r"std\[1\]"):
        StandardScaler.load(path)
    path.write_text(json.dumps({**std, "mean": [1.0, float("nan")]}))
    with pytest.raises(ConfigError, match=r"mean\[1\]"):
        StandardScaler.load(path)


def test_settings_and_usage_errors() -> None:
    with pytest.raises(ConfigError, match="offset_lsb"):
        PowerOfTwoRobustScaler(offset_lsb=0.3)
    with pytest.raises(ConfigError, match="quantiles"):
        PowerOfTwoRobustScaler(quantiles=(95.0, 5.0))
    with pytest.raises(ConfigError, match="target"):
        PowerOfTwoRobustScaler(target=0.0)
    with pytest.raises(ConfigError, match="object_size"):
        StandardScaler(object_size=0)
    with pytest.raises(ConfigError, match="not fitted"):
        StandardScaler().transform(np.zeros((2, 2)))
    with pytest.raises(ConfigError, match="object_size"):
        PowerOfTwoRobustScaler(object_size=3).fit(np.ones((4, 4)))
    with pytest.raises(ConfigError, match="ignore"):
        StandardScaler().fit(np.ones((4, 3)), ignore=np.zeros((4, 2), bool))
    with pytest.raises(ConfigError, match="2 features"):
        StandardScaler(feature_names=("a", "b")).fit(np.ones((4, 3)))
    with pytest.raises(ConfigError, match="not fitted"):
        PowerOfTwoRobustScaler().save(Path("never-written.json"))
