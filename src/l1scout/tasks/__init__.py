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
  stream (CLUE, anti-kT and NNPuppiTau candidates, NNPuppiTau and a
  transformer, di-tau working points at 50 kHz).

Shared by the tasks: :mod:`l1scout.tasks.rates` (crossing-rate
normalisations, thresholds at target rates, measured rates and efficiencies
with Clopper-Pearson intervals; :mod:`l1scout.tasks.anomaly` re-exports its
main names).

Importing this package imports no task (nor :mod:`l1scout.tasks.rates`);
import the subpackage or module you need.
"""

__all__: list[str] = []
