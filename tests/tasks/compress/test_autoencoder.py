"""The set autoencoder: permutation invariance, it learns, the codec's round trip."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from l1scout.errors import DataFormatError
from l1scout.tasks.compress.autoencoder import (
    LATENT_RANGE,
    AECodec,
    SetAutoencoder,
    SetAutoencoderConfig,
    autoencoder_losses,
    train_set_autoencoder,
)
from l1scout.tasks.compress.codec import Codec, measure
from l1scout.tasks.compress.entropy import decode_latents, encode_latents
from l1scout.tasks.compress.sets import N_FEATURES, ParticleSets
from l1scout.tasks.scouting.encode import _example_events


def small(**kw) -> SetAutoencoderConfig:
    base = {"slots": 8, "latent": 6, "hidden": 16, "epochs": 8, "batch_size": 32, "threads": 1}
    return SetAutoencoderConfig(**(base | kw))


def test_encoder_is_permutation_invariant_and_bounded(make_sets):
    sets = make_sets(4, 8)
    model = SetAutoencoder(small())
    z = model.encode_sets(sets)
    f, m = sets.features.copy(), sets.mask.copy()
    for i in range(4):
        n = int(m[i].sum())
        perm = np.random.default_rng(i).permutation(8)  # real and padded slots mixed
        f[i], m[i] = f[i, perm], m[i, perm]
        assert m[i].sum() == n
    z_perm = model.encode_sets(ParticleSets(f, m))
    np.testing.assert_allclose(z_perm, z, atol=1e-6)
    assert np.all(np.abs(z) < 1.0)
    assert z.shape == (4, 6)
    # padding content does not matter
    f2 = sets.features.copy()
    f2[~sets.mask] = 0.0
    np.testing.assert_array_equal(model.encode_sets(ParticleSets(f2, sets.mask)), z)


@pytest.mark.parametrize("loss", ["chamfer", "sinkhorn"])
def test_the_autoencoder_learns(loss, make_sets):
    train, val = make_sets(256, 8, 0), make_sets(64, 8, 1)
    cfg = small(loss=loss, sinkhorn_iterations=10, epochs=6)
    epochs: list[int] = []
    result = train_set_autoencoder(train, val, cfg, on_epoch=lambda e, _m: epochs.append(e))
    hist = result.history
    assert epochs == list(range(len(hist)))
    assert hist[-1]["val_loss"] < 0.85 * hist[0]["val_loss"]
    assert hist[-1]["val_set"] < hist[0]["val_set"]
    assert not result.model.training
    assert result.best_epoch == int(np.argmin([h["val_loss"] for h in hist]))


def test_training_is_seeded(make_sets):
    train, val = make_sets(64, 8, 0), make_sets(32, 8, 1)
    a = train_set_autoencoder(train, val, small(epochs=2)).model.state_dict()
    b = train_set_autoencoder(train, val, small(epochs=2)).model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_loss_terms_on_a_perfect_reconstruction(make_sets):
    sets = make_sets(5, 8)
    f, m = torch.from_numpy(sets.features), torch.from_numpy(sets.mask)
    raw = torch.zeros(5, 8, N_FEATURES + 1)
    raw[..., :6] = f[..., :6]
    raw[..., 6:N_FEATURES] = f[..., 6:] * 50.0  # code logits: softmax -> the one-hot
    raw[..., N_FEATURES] = torch.where(m, 40.0, -40.0)
    out = autoencoder_losses(raw, f, m, small())
    assert float(out["set"]) < 1e-6
    assert float(out["sums"]) < 1e-10
    assert float(out["existence"]) < 1e-10


def test_wrong_slots_rejected(make_sets):
    with pytest.raises(DataFormatError, match="slots"):
        train_set_autoencoder(make_sets(8, 4), make_sets(8, 4), small())


@pytest.fixture(scope="module")
def trained(make_sets) -> SetAutoencoder:
    cfg = SetAutoencoderConfig(slots=4, latent=5, hidden=16, epochs=2, batch_size=32, threads=1)
    return train_set_autoencoder(make_sets(64, 4, 0), make_sets(16, 4, 1), cfg).model


def test_codec_round_trip(trained, tmp_path):
    events = _example_events()
    codec = AECodec(trained, 8)
    assert isinstance(codec, Codec)
    assert codec.label == "set_ae-d5-b8"
    assert codec.family == "set_ae"
    assert not codec.lossless
    m = measure(codec, events, tmp_path)
    dec = m.decoded
    assert dec is not None
    assert dec.n_events == 2
    assert dec.event_number is events.event_number
    assert dec.process == events.process
    assert len(dec.puppi_offsets) == 3
    assert set(dec.puppi) == set(events.puppi)
    counts = np.diff(dec.puppi_offsets)
    assert np.all(counts <= 4)
    for key in ("pt", "eta", "phi", "pid", "charge", "dz", "d0", "puppi_w"):
        assert len(dec.puppi[key]) == counts.sum()
    # the objects come back on their hardware bins
    np.testing.assert_allclose(dec.jets["pt"], events.jets["pt"], rtol=0.02)
    assert m.params["object_bytes_per_event"] > 0
    assert m.params["particle_bytes_per_event"] > 0
    assert m.n_bytes == (tmp_path / "set_ae-d5-b8.bin").stat().st_size


def test_16_bit_latents_decode_like_float_latents(trained, make_sets):
    z = trained.encode_sets(make_sets(50, 4, 3))
    z16 = decode_latents(encode_latents(z, 16, *LATENT_RANGE))
    assert np.max(np.abs(z16 - z)) <= 2.0 / 2**16
    with torch.no_grad():
        a = trained.decode_raw(torch.from_numpy(z)).numpy()
        b = trained.decode_raw(torch.from_numpy(z16)).numpy()
    np.testing.assert_allclose(b, a, atol=2e-3)
    fa, fb = trained.decode_latents(z), trained.decode_latents(z16)
    sure = np.abs(a[..., N_FEATURES]) > 1e-2
    np.testing.assert_array_equal(fa.mask[sure], fb.mask[sure])


def test_codec_rejects_a_foreign_payload(trained):
    events = _example_events()
    codec = AECodec(trained, 6)
    with pytest.raises(DataFormatError, match="magic"):
        codec.decode(b"nonsense-bytes", events)
    payload = codec.encode(events)
    with pytest.raises(DataFormatError):
        codec.decode(payload, dataclasses.replace(events, event_number=events.event_number[:1]))
