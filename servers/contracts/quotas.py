"""Per-key quotas counted in Redis: the gateway charges questions on Ask, the training
service charges training jobs on CreateTrainingJob.

The limits travel with the caller (`identity.current_principal().quotas`, from the
edge's x-chatdb-quota header); a call without a principal (an internal caller) or a
limit of 0 is not counted. Windows are fixed and UTC: a per-minute quota resets at the
start of the next minute (hh:mm:00Z), a per-day quota at 00:00:00Z. Each window is one
Redis counter `<prefix>:quota:<key>:<quota>:<window start>` that expires with its window.

A call over a limit is refused with QuotaExceeded (RESOURCE_EXHAUSTED with
google.rpc.QuotaFailure and RetryInfo) and gives back what it charged, so refused calls
do not eat the next window's (or the day's) allowance.

Redis down: quotas are NOT enforced — the question is still answered, since a quota
protects capacity and an outage of the counter store should not turn into an outage of
the product. The first failure is logged (once, until Redis answers again) and Redis is
not asked again for `retry_after_s`, so an outage costs no time per call.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from servers.runtime.errors import QuotaExceeded, QuotaViolation
from servers.runtime.identity import Principal, current_principal
from servers.runtime.redis_errors import REDIS_DOWN

log = logging.getLogger("chatdb.quotas")

QUESTIONS_PER_MINUTE = "questions_per_minute"
QUESTIONS_PER_DAY = "questions_per_day"
TRAINING_JOBS_PER_DAY = "training_jobs_per_day"

MINUTE_S = 60
DAY_S = 86_400
# The window length of each quota (seconds, aligned on the UTC epoch).
WINDOWS: dict[str, int] = {
    QUESTIONS_PER_MINUTE: MINUTE_S,
    QUESTIONS_PER_DAY: DAY_S,
    TRAINING_JOBS_PER_DAY: DAY_S,
}
QUESTIONS = (QUESTIONS_PER_MINUTE, QUESTIONS_PER_DAY)
TRAINING_JOBS = (TRAINING_JOBS_PER_DAY,)


@dataclass(frozen=True)
class Window:
    start: int  # epoch seconds
    length: int

    @property
    def end(self) -> int:
        return self.start + self.length


def window_of(name: str, now: float) -> Window:
    length = WINDOWS[name]
    return Window(int(now) - int(now) % length, length)


def _iso(epoch: int) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def subject_of(principal: Principal) -> str:
    return principal.api_key_id or principal.name


class Quotas:
    """Charges the current principal's quotas against Redis counters."""

    def __init__(self, redis, prefix: str, *, retry_after_s: float = 5.0,
                 clock: Callable[[], float] = time.time) -> None:
        self.redis = redis
        self.prefix = prefix
        self.retry_after_s = retry_after_s
        self.clock = clock
        self._skip_until = 0.0
        self._down_logged = False

    def _key(self, subject: str, name: str, window: Window) -> str:
        return f"{self.prefix}:quota:{subject}:{name}:{window.start}"

    async def charge(self, names: Sequence[str], principal: Principal | None = None) -> None:
        """Count one use of each of `names` for `principal` (default: the current one);
        QuotaExceeded when any of them is over its limit (nothing is charged then)."""
        principal = principal if principal is not None else current_principal()
        if principal is None:
            return
        limited = [(n, principal.quotas.get(n, 0)) for n in names if principal.quotas.get(n, 0) > 0]
        if not limited:
            return
        now = self.clock()
        if now < self._skip_until:
            return
        subject = subject_of(principal)
        windows = [window_of(name, now) for name, _ in limited]
        keys = [self._key(subject, name, w) for (name, _), w in zip(limited, windows, strict=True)]
        try:
            pipe = self.redis.pipeline(transaction=False)
            for key, window in zip(keys, windows, strict=True):
                pipe.incr(key)
                # A little past the window's end: clocks of replicas differ slightly.
                pipe.expireat(key, window.end + 60)
            results = await pipe.execute()
            counts = results[0::2]
            over = [(name, limit, w) for (name, limit), w, c in zip(limited, windows, counts, strict=True) if c > limit]
            if over:
                refund = self.redis.pipeline(transaction=False)
                for key in keys:
                    refund.decr(key)
                await refund.execute()
        except REDIS_DOWN as exc:
            self._skip_until = now + self.retry_after_s
            if not self._down_logged:
                self._down_logged = True
                log.warning("Redis unreachable: quotas are not enforced until it answers again",
                            extra={"error": str(exc)})
            return
        if self._down_logged:
            self._down_logged = False
            log.info("Redis answers again: quotas are enforced")
        if over:
            raise exceeded(subject, over, now)

    async def refund(self, names: Sequence[str], principal: Principal | None = None) -> None:
        """Give back one use of each of `names` charged in the current windows (a call
        that failed after it was charged, e.g. a training spec found invalid)."""
        principal = principal if principal is not None else current_principal()
        if principal is None:
            return
        limited = [n for n in names if principal.quotas.get(n, 0) > 0]
        now = self.clock()
        if not limited or now < self._skip_until:
            return
        subject = subject_of(principal)
        try:
            pipe = self.redis.pipeline(transaction=False)
            for name in limited:
                pipe.decr(self._key(subject, name, window_of(name, now)))
            await pipe.execute()
        except REDIS_DOWN:
            self._skip_until = now + self.retry_after_s


def exceeded(subject: str, over: list[tuple[str, int, Window]], now: float) -> QuotaExceeded:
    """The error of a call over one or more quotas: it names each and when it resets; the
    retry delay is the latest reset (the call succeeds only once every window has)."""
    violations = [
        QuotaViolation(f"api_key:{subject}", f"{name} ({limit}) used up; resets at {_iso(w.end)}")
        for name, limit, w in over
    ]
    last = max(w.end for _, _, w in over)
    name, limit, _ = max(over, key=lambda o: o[2].end)
    wait = max(0.0, last - now)
    message = (f"quota {name} ({limit}) exceeded for {subject}; it resets at {_iso(last)} "
               f"(in {int(wait) + 1} s)")
    if len(over) > 1:
        message += "; also over: " + ", ".join(n for n, _, _ in over if n != name)
    return QuotaExceeded(message, violations=violations, retry_after_s=wait,
                         metadata={"quota": name, "limit": str(limit), "reset_time": _iso(last)})
