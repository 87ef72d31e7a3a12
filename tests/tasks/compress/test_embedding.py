"""The VICReg set embedding: augmentations, training, the embedding codec."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from l1scout.errors import DataFormatError
from l1scout.tasks.compress.codec import EmbeddingCodec as EmbeddingCodecProtocol
from l1scout.tasks.compress.codec import measure
from l1scout.tasks.compress.embedding import (
    EmbeddingCodec,
    SetEmbeddingConfig,
    augment_sets,
    train_set_embedding,
)
from l1scout.tasks.compress.sets import ParticleSets
from l1scout.tasks.scouting.encode import _example_events


def test_augmentation_keeps_padding_and_rotates_rigidly(make_sets):
    sets = make_sets(6, 8)
    f, m = torch.from_numpy(sets.features), torch.from_numpy(sets.mask)
    cfg = SetEmbeddingConfig(slots=8, smear_log_pt=0, smear_eta=0, smear_phi=0, drop_probability=0)
    v, vm = augment_sets(f, m, cfg, torch.Generator().manual_seed(1))
    assert torch.equal(vm, m)
    assert float(v[~m].abs().sum()) == 0.0
    # only the azimuth changed, by one angle per event: pairwise angle differences kept
    assert torch.equal(v[..., [0, 1, 4, 5]], f[..., [0, 1, 4, 5]])
    assert torch.equal(v[..., 6:], f[..., 6:])
    phi, phi_v = torch.atan2(f[..., 3], f[..., 2]), torch.atan2(v[..., 3], v[..., 2])
    turn = torch.remainder(phi_v - phi, 2 * np.pi)
    for e in range(6):
        t = turn[e, m[e]]
        spread = torch.remainder(t - t[0] + np.pi, 2 * np.pi) - np.pi
        assert float(spread.abs().max()) < 1e-5


def test_augmentation_drops_and_smears_with_the_generator(make_sets):
    sets = make_sets(200, 8)
    f, m = torch.from_numpy(sets.features), torch.from_numpy(sets.mask)
    cfg = SetEmbeddingConfig(slots=8, drop_probability=0.3, rotate=False)
    v1, m1 = augment_sets(f, m, cfg, torch.Generator().manual_seed(5))
    v2, m2 = augment_sets(f, m, cfg, torch.Generator().manual_seed(5))
    assert torch.equal(v1, v2)
    assert torch.equal(m1, m2)
    assert bool((m1 <= m).all())
    assert bool(m1[:, 0].all())
    dropped = float((m & ~m1).sum()) / float(m[:, 1:].sum())
    assert 0.2 < dropped < 0.4
    kept = m1
    d = (v1[..., 0] - f[..., 0])[kept]
    assert 0.08 < float(d.std()) < 0.12  # smear_log_pt = 0.1


@pytest.fixture(scope="module")
def trained(make_sets):
    cfg = SetEmbeddingConfig(
        slots=8, embed_dim=4, hidden=16, projector=16, epochs=4, batch_size=64, threads=1
    )
    return train_set_embedding(make_sets(256, 8, 0), make_sets(64, 8, 1), cfg)


def test_vicreg_training_lowers_its_loss_and_fixes_a_range(trained, make_sets):
    hist = trained.history
    assert hist[-1]["val_loss"] < hist[0]["val_loss"]
    model = trained.model
    z = model.embed_sets(make_sets(256, 8, 0))
    assert np.all(model.lo.numpy() < np.quantile(z, 0.01, axis=0))
    assert np.all(model.hi.numpy() > np.quantile(z, 0.99, axis=0))


def test_embedding_is_permutation_invariant(trained, make_sets):
    sets = make_sets(5, 8, 7)
    perm = np.random.default_rng(0).permutation(8)
    z = trained.model.embed_sets(sets)
    zp = trained.model.embed_sets(ParticleSets(sets.features[:, perm], sets.mask[:, perm]))
    np.testing.assert_allclose(zp, z, atol=1e-5)


def test_embedding_codec(trained, tmp_path):
    model = trained.model
    # the example events have 2 candidates: embed them with 8 slots
    events = _example_events()
    codec = EmbeddingCodec(model, 12)
    assert isinstance(codec, EmbeddingCodecProtocol)
    assert codec.label == "vicreg-d4-b12"
    assert codec.family == "vicreg"
    m = measure(codec, events, tmp_path)
    assert m.decoded is None
    assert m.embedding is not None
    z = codec.embed(events)
    step = (model.hi.numpy() - model.lo.numpy()) / 2**12
    inside = (z > model.lo.numpy()) & (z < model.hi.numpy())
    assert np.all(np.abs(m.embedding - z)[inside] <= np.broadcast_to(step, z.shape)[inside])
    objects = codec.decode_objects((tmp_path / "vicreg-d4-b12.bin").read_bytes(), events)
    assert objects.jets["pt"].shape == events.jets["pt"].shape
    with pytest.raises(DataFormatError):
        codec.decode_embedding(b"xx")


def test_too_few_events(make_sets):
    with pytest.raises(DataFormatError, match="2 events"):
        train_set_embedding(make_sets(1, 8), make_sets(4, 8), SetEmbeddingConfig(slots=8))
