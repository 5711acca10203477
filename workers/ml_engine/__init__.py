"""The ML engine's training core: validate a spec, train a scikit-learn model, export it
to ONNX, verify ONNX Runtime reproduces it — in process (trainer.train) or in a child
process that can be cancelled (child.train_in_child).

    spec.py         Task, TrainingSpec, Dataset (+ fingerprint), TensorSpec
    columns.py      column kinds; how values become numbers, text and labels
    algorithms.py   the algorithms of each task and their hyperparameter schemas
    validation.py   validate(spec, columns, sample_rows) → every FieldViolation
    datasets.py     load_csv (inside the data directory; pyarrow for whole files), from_records
    features.py     feature encoding, preprocessing pipeline, feeds_from_records
    imputer.py      MedianImputer: SimpleImputer's medians by np.nanmedian
    export.py       skl2onnx conversion and the model's input/output names
    metrics.py      test-split metrics
    parity.py       ONNX Runtime vs scikit-learn on the test split
    trainer.py      train(spec, dataset, progress) → TrainResult
    child.py        train_in_child(...): the same in a child process
    warm.py         what the fork server preloads for child processes
    errors.py       ParityError, TrainingCancelled, TrainingCrashed

Importing this package (or spec, columns, algorithms, validation, datasets, child)
does not load numpy, pyarrow or scikit-learn.
"""

from .errors import ParityError, TrainingCancelled, TrainingCrashed
from .spec import Dataset, Task, TensorSpec, TrainingSpec
from .validation import validate

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
