"""MLflow tracking: runs, the local or remote store, the model registry (MLflow imported on use)."""

from l1scout.track.registry import RegisteredModel, best_run, load_model, register_model
from l1scout.track.runs import TrackedRun, dataset_hash, flatten_params, git_commit, start_run
from l1scout.track.store import local_store, tracking_uri

__all__ = [
    "RegisteredModel",
    "TrackedRun",
    "best_run",
    "dataset_hash",
    "flatten_params",
    "git_commit",
    "load_model",
    "local_store",
    "register_model",
    "start_run",
    "tracking_uri",
]
