"""The ML engine's training core: validate a spec, train a scikit-learn model, export it
to ONNX, verify ONNX Runtime reproduces it — in process (trainer.train) or in a child
process that can be cancelled (child.train_in_child).

    (servers/contracts/ml/, shared with the orchestrator and prediction:
     spec.py Task, TrainingSpec, Dataset, TensorSpec; columns.py column kinds and
     coercion; algorithms.py the algorithms and hyperparameter schemas; validation.py
     validate(spec, columns, sample_rows); datasets.py load_csv, from_records)
    features.py     feature encoding, preprocessing pipeline, feeds_from_records
    imputer.py      MedianImputer: SimpleImputer's medians by np.nanmedian
    export.py       skl2onnx conversion and the model's input/output names
    metrics.py      test-split metrics
    parity.py       ONNX Runtime vs scikit-learn on the test split
    trainer.py      train(spec, dataset, progress) → TrainResult
    child.py        train_in_child(...): the same in a child process
    warm.py         what the fork server preloads for child processes
    errors.py       ParityError, TrainingCancelled, TrainingCrashed

Importing this package (or child, or servers/contracts/ml)
does not load numpy, pyarrow or scikit-learn.
"""

from servers.contracts.ml.spec import Dataset, Task, TensorSpec, TrainingSpec
from servers.contracts.ml.validation import validate

from .errors import ParityError, TrainingCancelled, TrainingCrashed

__all__ = [
    "Dataset",
    "ParityError",
    "Task",
    "TensorSpec",
    "TrainingCancelled",
    "TrainingCrashed",
    "TrainingSpec",
    "validate",
]
