"""The intent of a question: from the `query-intent` model the platform trained and
serves (PredictionService.Predict), else from the cue rules (intent_rules.py).

The model is asked with a short deadline (CHATDB_PARSER_INTENT_TIMEOUT_S): a parse must
stay fast when ML is slow or down (degradation level 2 in docs/ARCHITECTURE.md: the
parser answers on its rule path alone). After a failed call a circuit breaker skips the
model for CHATDB_PARSER_INTENT_BREAKER_S, so a dead prediction service costs nothing per
question; then one call tries again. Every rule answer says why in `fallback_reason`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import grpc
from chatdb.prediction.v1 import prediction_service_pb2 as pb
from chatdb.prediction.v1 import prediction_service_pb2_grpc as pb_grpc
from google.protobuf import struct_pb2

from servers.runtime.channels import as_domain_error
from servers.runtime.errors import ChatDBError, Code
from servers.runtime.settings import Settings

from .domain import QueryKind
from .intent_corpus import TEXT_COLUMN
from .intent_rules import rule_intent

log = logging.getLogger("chatdb.parser.intent")

MODEL_NAME = "query-intent"
ALIAS = "production"
RULES = "rules"

_KINDS = {kind.value: kind for kind in QueryKind if kind is not QueryKind.UNKNOWN}


@dataclass(frozen=True)
class IntentResult:
    kind: QueryKind
    confidence: float
    source: str  # "model query-intent v3" or "rules"
    fallback_reason: str = ""  # why the rules answered; empty when the model did


class IntentClassifier:
    """`await classify(question)`: the model's intent, or the rules' with the reason."""

    def __init__(
        self,
        channel: grpc.aio.Channel,
        *,
        model: str = MODEL_NAME,
        alias: str = ALIAS,
        timeout_s: float = 0.3,
        breaker_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._stub = pb_grpc.PredictionServiceStub(channel)
        self.model, self.alias = model, alias
        self.timeout_s, self.breaker_s = timeout_s, breaker_s
        self._clock = clock
        self._open_until = 0.0  # the breaker: no model call before this time
        self._last_failure = ""

    @classmethod
    def from_settings(cls, channel: grpc.aio.Channel, settings: Settings) -> IntentClassifier:
        return cls(channel, model=settings.parser_intent_model, timeout_s=settings.parser_intent_timeout_s,
                   breaker_s=settings.parser_intent_breaker_s)

    async def classify(self, question: str) -> IntentResult:
        now = self._clock()
        if now < self._open_until:
            return self._rules(question, f"{self._last_failure}; the model is not asked again for "
                                         f"{self._open_until - now:.1f} s")
        answer, problem = await self._ask_model(question)
        if answer is not None:
            return answer
        self._last_failure = problem
        self._open_until = self._clock() + self.breaker_s
        return self._rules(question, problem)

    async def _ask_model(self, question: str) -> tuple[IntentResult | None, str]:
        """(the model's answer, "") or (None, why there is none)."""
        record = struct_pb2.Struct()
        record.update({TEXT_COLUMN: question})
        request = pb.PredictRequest(model=self.model, alias=self.alias, records=[record])
        try:
            reply = await self._stub.Predict(request, timeout=self.timeout_s)
        except (grpc.aio.AioRpcError, ChatDBError) as exc:
            return None, self._why(as_domain_error(exc))
        except Exception as exc:  # noqa: BLE001 - a parse never fails for want of the model
            log.warning("intent model call failed", exc_info=True)
            return None, f"the intent model call failed ({type(exc).__name__})"
        if not reply.predictions:
            return None, f"model {self.model} v{reply.version} returned no prediction"
        prediction = reply.predictions[0]
        label = prediction.label.string_value
        kind = _KINDS.get(label)
        if kind is None:
            return None, f"model {self.model} v{reply.version} answered {label!r}, which is not an intent"
        confidence = prediction.probabilities.get(label, 0.5) if prediction.probabilities else 0.5
        return IntentResult(kind, float(confidence), f"model {self.model} v{reply.version}"), ""

    def _why(self, error: ChatDBError) -> str:
        if error.code is Code.DEADLINE_EXCEEDED:
            return f"the prediction service did not answer within {self.timeout_s:g} s"
        if error.code is Code.UNAVAILABLE:
            return "the prediction service is unavailable"
        if error.code is Code.NOT_FOUND:
            return f"model {self.model} has no {self.alias} version (`chatdb parser bootstrap-intent` trains one)"
        return f"model {self.model} could not answer ({error.code.name}: {error.message})"

    @staticmethod
    def _rules(question: str, reason: str) -> IntentResult:
        found = rule_intent(question)
        return IntentResult(found.kind, found.confidence, RULES, f"{reason}: answered by rules ({found.cue})")
