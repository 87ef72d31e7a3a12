"""Compression of Level-1 scouting events: stored bytes per event against physics fidelity.

One scouting event (the 128 highest-pT L1T PUPPI candidates and the trigger
objects, :class:`~l1scout.tasks.scouting.events.StreamEvents`) through codecs
measured on the files they write (:func:`~l1scout.tasks.compress.codec.measure`):
baselines (float16 Parquet with zstd as COLLIDE-2V stores it, the Phase-2
words with zstd, lossless integer packing on the hardware bins, per-field
quantization; ``docs/physics/compression-baselines.md``) and learned codecs (a
set autoencoder trained with a Chamfer or Sinkhorn loss, a VICReg embedding),
their latents quantized and entropy-coded; fidelity (particle distributions,
HT, MET and jets from the decoded particles, the anomaly score and an event
classifier on the stored form; ``docs/physics/compression-fidelity.md``); the
rate-distortion frontier and the best codec per byte budget
(:mod:`~l1scout.tasks.compress.frontier`). ``l1scout run compress [CONFIG]``
runs it all (``docs/compress.md``).
"""

from l1scout.tasks.compress.autoencoder import (
    AECodec,
    SetAutoencoder,
    SetAutoencoderConfig,
    train_set_autoencoder,
)
from l1scout.tasks.compress.baselines import (
    Float16ParquetCodec,
    IntPackCodec,
    WordsZstdCodec,
)
from l1scout.tasks.compress.codec import (
    Codec,
    Measured,
    measure,
)
from l1scout.tasks.compress.config import (
    CompressConfig,
    demo_config,
    load_compress_config,
)
from l1scout.tasks.compress.data import (
    CompressData,
    ensure_compress_samples,
    read_parts,
)
from l1scout.tasks.compress.deploy import (
    EncoderDeployment,
    deploy_encoder,
)
from l1scout.tasks.compress.downstream import (
    DownstreamConfig,
    DownstreamModels,
    EmbeddingModels,
    particle_trigger_inputs,
)
from l1scout.tasks.compress.embedding import (
    EmbeddingCodec,
    SetEmbedder,
    SetEmbeddingConfig,
    train_set_embedding,
)
from l1scout.tasks.compress.entropy import (
    decode_latents,
    encode_latents,
    zstd_compress,
    zstd_decompress,
)
from l1scout.tasks.compress.fidelity import (
    Response,
    event_quantities,
    fidelity_metrics,
    particle_distances,
    response_resolution,
)
from l1scout.tasks.compress.frontier import (
    CodecRow,
    GoalCheck,
    RDPoint,
    best_per_budget,
    goal_check,
    learned_losses,
    pareto_front,
)
from l1scout.tasks.compress.measures import (
    DownstreamResult,
    downstream_ratios,
)
from l1scout.tasks.compress.objects import (
    decode_objects,
    encode_objects,
)
from l1scout.tasks.compress.pipeline import (
    STAGES,
    run_compress,
)
from l1scout.tasks.compress.quantized import (
    QuantizedCodec,
    quantized_scan,
)
from l1scout.tasks.compress.report import (
    write_compress_report,
)
from l1scout.tasks.compress.results import (
    CodecPoint,
    CompressResult,
)
from l1scout.tasks.compress.set_losses import (
    chamfer_loss,
    sinkhorn_loss,
)
from l1scout.tasks.compress.sets import (
    ParticleSets,
    with_particles,
)

__all__ = [
    "STAGES",
    "AECodec",
    "Codec",
    "CodecPoint",
    "CodecRow",
    "CompressConfig",
    "CompressData",
    "CompressResult",
    "DownstreamConfig",
    "DownstreamModels",
    "DownstreamResult",
    "EmbeddingCodec",
    "EmbeddingModels",
    "EncoderDeployment",
    "Float16ParquetCodec",
    "GoalCheck",
    "IntPackCodec",
    "Measured",
    "ParticleSets",
    "QuantizedCodec",
    "RDPoint",
    "Response",
    "SetAutoencoder",
    "SetAutoencoderConfig",
    "SetEmbedder",
    "SetEmbeddingConfig",
    "WordsZstdCodec",
    "best_per_budget",
    "chamfer_loss",
    "decode_latents",
    "decode_objects",
    "demo_config",
    "deploy_encoder",
    "downstream_ratios",
    "encode_latents",
    "encode_objects",
    "ensure_compress_samples",
    "event_quantities",
    "fidelity_metrics",
    "goal_check",
    "learned_losses",
    "load_compress_config",
    "measure",
    "pareto_front",
    "particle_distances",
    "particle_trigger_inputs",
    "quantized_scan",
    "read_parts",
    "response_resolution",
    "run_compress",
    "sinkhorn_loss",
    "train_set_autoencoder",
    "train_set_embedding",
    "with_particles",
    "write_compress_report",
    "zstd_compress",
    "zstd_decompress",
]
