"""The tasks: one subpackage per physics task, each with the same shape.

A task is a typed TOML configuration (pydantic, closed), its data (produced
through :mod:`l1scout.production` where missing, or read with :mod:`l1scout.io`),
its models and training, an evaluation at trigger rates with intervals, MLflow
tracking (:mod:`l1scout.track`), ONNX and firmware (:mod:`l1scout.deploy`) and
an HTML report, run end to end by ``l1scout run TASK CONFIG``.

- :mod:`l1scout.tasks.anomaly`: the anomaly-detection trigger (AXOL1TL family).
- :mod:`l1scout.tasks.recalib`: re-calibration of L1 muons and jets
  (neural networks against Nystrom kernel ridge regression).
- :mod:`l1scout.tasks.taus`: soft hadronic-tau identification in the scouting
  stream (truth, NNPuppiTau, the transformer, di-tau working points); its
  pipeline command is still to come.

Importing this package imports no task; import the subpackage you need.
"""

__all__: list[str] = []
