"""Deployability of the learned encoders: ONNX parity with torch, throughput, operation count."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from l1scout.deploy.onnx import OnnxModel
from l1scout.errors import ConfigError, DataFormatError
from l1scout.tasks.compress.autoencoder import SetAutoencoder, SetAutoencoderConfig
from l1scout.tasks.compress.deploy import (
    CROSSING_RATE_HZ,
    cores_for_stream,
    deploy_encoder,
    encoder_throughput,
)
from l1scout.tasks.compress.embedding import SetEmbedder, SetEmbeddingConfig
from l1scout.tasks.compress.sets import N_FEATURES


def _autoencoder() -> SetAutoencoder:
    torch.manual_seed(0)
    return SetAutoencoder(SetAutoencoderConfig(slots=8, latent=6, hidden=16))


def test_autoencoder_encoder_onnx_matches_torch(tmp_path, make_sets):
    model = _autoencoder()
    sets = make_sets(37, 8)  # an odd batch: the batch axis is dynamic
    dep = deploy_encoder(model.encoder, sets, tmp_path, "set_ae-d6", repeats=1)
    assert dep.onnx == tmp_path / "set_ae-d6.onnx"
    assert dep.onnx.is_file()
    assert dep.parity < 1e-5
    got = OnnxModel(dep.onnx).predict(sets.packed())
    np.testing.assert_allclose(got, model.encode_sets(sets), atol=1e-5)
    assert dep.n_inputs == 8 * (N_FEATURES + 1)
    assert dep.threads == 2
    assert dep.events_per_second > 0
    assert dep.cores_for_stream == pytest.approx(CROSSING_RATE_HZ / dep.events_per_second * 2)
    # operations by hand: the per-particle MLP on all k slots, then rho
    k, f, h, d = 8, N_FEATURES, 16, 6
    macs = k * (f * h + h * h) + 2 * h * h + h * d
    params = (f * h + h) + (h * h + h) + (2 * h * h + h) + (h * d + d)
    assert (dep.ops.macs, dep.ops.params) == (macs, params)
    # FLOPs: 2 per MAC, one per bias, one per ReLU / tanh output
    assert dep.ops.flops == 2 * macs + 2 * (2 * k * h + h + d)


def test_embedder_onnx_matches_torch(tmp_path, make_sets):
    torch.manual_seed(1)
    model = SetEmbedder(SetEmbeddingConfig(slots=8, embed_dim=4, hidden=16, projector=8))
    sets = make_sets(9, 8)
    dep = deploy_encoder(model.encoder, sets, tmp_path, "vicreg-d4", repeats=1)
    assert dep.parity < 1e-5
    np.testing.assert_allclose(
        OnnxModel(dep.onnx).predict(sets.packed()), model.embed_sets(sets), atol=1e-5
    )


def test_throughput_and_cores():
    assert cores_for_stream(CROSSING_RATE_HZ, threads=2) == pytest.approx(2.0)
    assert cores_for_stream(1e6, threads=1, rate_hz=4e7) == pytest.approx(40.0)
    with pytest.raises(ConfigError):
        cores_for_stream(0.0)


def test_bad_inputs(tmp_path, make_sets):
    with pytest.raises(DataFormatError, match="slots"):
        deploy_encoder(_autoencoder().encoder, make_sets(4, 5), tmp_path, "x")
    with pytest.raises(DataFormatError, match="batch"):
        encoder_throughput(tmp_path / "none.onnx", np.zeros((0, 3)))
    with pytest.raises(ConfigError, match="slots"):
        deploy_encoder(torch.nn.Linear(3, 2), make_sets(4, 5), tmp_path, "x")
