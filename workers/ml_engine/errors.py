"""Errors the ML engine adds to the shared domain tree (servers/runtime/errors.py).

    ChatDBError
    ├── FailedPrecondition
    │   └── ParityError          the ONNX model does not reproduce scikit-learn
    ├── Internal
    │   └── TrainingCrashed      the training child process died (exit code in metadata)
    └── TrainingCancelled        CANCELLED: the caller asked the training to stop
"""

from __future__ import annotations

from servers.runtime.errors import ChatDBError, Code, FailedPrecondition, Internal


class ParityError(FailedPrecondition):
    """ONNX Runtime's predictions differ from scikit-learn's beyond the thresholds."""

    default_reason = "ONNX_PARITY_FAILED"


class TrainingCancelled(ChatDBError):
    """The training was stopped on request (its child process was terminated)."""

    code = Code.CANCELLED
    default_reason = "TRAINING_CANCELLED"


class TrainingCrashed(Internal):
    """The training child process ended without a result (killed, out of memory, crash)."""

    default_reason = "TRAINING_PROCESS_DIED"
