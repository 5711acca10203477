"""Questions about ChatDB itself: "is the system healthy?", "which jobs are running?",
"what failed today?".

Recognition is cheap and needs no I/O, because the core asks it before the parser: a
health question must be answered while the parser or the connector is down. It is
deliberately narrow: a question is a system question only when it names a system topic
(health, jobs, failures) AND every other word in it is system vocabulary or a function
word. "which orders failed delivery?" has "orders" and "delivery" left over, so it stays
a database question; the parser's own SYSTEM_STATUS intent still reaches answer() for
phrasings recognition leaves out.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from typing import Any

import grpc
from chatdb.connector.v1 import data_type_pb2
from chatdb.parser.v1 import parsed_query_pb2
from chatdb.training.v1 import job_state_pb2, training_service_pb2, training_service_pb2_grpc

from servers.runtime.channels import as_domain_error, open_channel
from servers.runtime.errors import ChatDBError
from servers.runtime.settings import Settings

from .answer import SOURCES, Answer, table
from .status import StatusMonitor

FailedQuestions = Callable[[datetime], Awaitable[list[dict]]]


class Topic(enum.Enum):
    HEALTH = "health"
    JOBS = "jobs"
    FAILURES = "failures"


_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")

FUNCTION_WORDS = frozenset("""
a an the is are was were be been being am do does did has have had any anything all everything every some
what which who how when where whats what's is there there's right now currently current at the moment so far
of in on for to from with by since today today's until me us my our i we you it its this that these those
please show list tell give check can could would will any ok okay fine good up down still and or not no
""".split())

HEALTH_WORDS = frozenset("""
system systems mesh service services component components chatdb platform gateway health healthy
status state level degradation degraded working running alive operational everything
""".split())
JOB_WORDS = frozenset("""
job jobs training trainings running queued queue pending active waiting progress in-progress started
""".split())
FAILURE_WORDS = frozenset("""
failed fail fails failure failures error errors wrong broke broken went go questions question queries query
jobs job training happened
""".split())
VOCABULARY = FUNCTION_WORDS | HEALTH_WORDS | JOB_WORDS | FAILURE_WORDS

# The word that decides each topic (checked failures → jobs → health: "which jobs
# failed?" is about failures, "is training running?" about jobs).
FAILURE_CUES = frozenset({"failed", "fail", "fails", "failure", "failures", "error", "errors", "wrong", "broke", "broken"})
JOB_CUES = frozenset({"job", "jobs", "trainings", "queued", "queue", "pending"})
HEALTH_CUES = frozenset({"system", "systems", "mesh", "service", "services", "components", "chatdb", "platform",
                         "health", "healthy", "degradation", "degraded", "operational"})
# "is everything ok?" / "everything fine?": the whole question is the health question.
EVERYTHING_OK = re.compile(r"^\W*(is\s+)?(everything|all)\s+(ok|okay|fine|good|up|working|running|healthy)\W*$")


def topic_of(question: str) -> Topic | None:
    text = question.lower().strip()
    if EVERYTHING_OK.match(text):
        return Topic.HEALTH
    words = _WORD.findall(text)
    if not words or any(word not in VOCABULARY for word in words):
        return None
    present = set(words)
    if present & FAILURE_CUES:
        return Topic.FAILURES
    if present & JOB_CUES or ("training" in present and present & {"running", "active", "progress"}):
        return Topic.JOBS
    if present & HEALTH_CUES:
        return Topic.HEALTH
    return None


ACTIVE_STATES = (job_state_pb2.JOB_STATE_RUNNING, job_state_pb2.JOB_STATE_QUEUED, job_state_pb2.JOB_STATE_CANCELLING)
STATE_NAMES = {value: name.removeprefix("JOB_STATE_").lower() for name, value in job_state_pb2.JobState.items()}
TEXT, DOUBLE, TIMESTAMP = data_type_pb2.DATA_TYPE_TEXT, data_type_pb2.DATA_TYPE_FLOAT, data_type_pb2.DATA_TYPE_TIMESTAMP
STATE_LABELS = {1: "serving", 2: "degraded", 3: "not serving", 4: "unknown"}


def local_midnight(now: datetime | None = None) -> datetime:
    now = (now or datetime.now(UTC)).astimezone()
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


class TrainingDown(Exception):
    """The training service could not be asked; the message says why."""


class SystemQuestions:
    def __init__(self, *, monitor: StatusMonitor, training: Any, failed_questions: FailedQuestions,
                 timeout_s: float = 2.0) -> None:
        """`training` is a TrainingServiceStub (a channel with or without the runtime's
        error mapping); `failed_questions(since)` is the core's history of FAILED asks."""
        self.monitor = monitor
        self.training = training
        self.failed_questions = failed_questions
        self.timeout_s = timeout_s

    def recognises(self, question: str) -> bool:
        return topic_of(question) is not None

    async def answer(self, question: str, parsed: parsed_query_pb2.ParsedQuery | None = None) -> Answer:
        topic = topic_of(question) or Topic.HEALTH  # the parser said SYSTEM_STATUS: the health view
        if topic is Topic.JOBS:
            return await self._jobs(question)
        if topic is Topic.FAILURES:
            return await self._failures()
        return await self._health()

    # --- health -------------------------------------------------------------------------
    async def _health(self) -> Answer:
        snapshot = await self.monitor.snapshot()
        rows = [(h.component, STATE_LABELS.get(h.state, "unknown"), h.message, round(h.latency_s * 1000, 1),
                 h.checked_at) for h in snapshot.components]
        columns, cells = table(("component", "state", "message", "latency_ms", "checked"), rows,
                               (TEXT, TEXT, TEXT, DOUBLE, TIMESTAMP))
        text = ("The system is healthy (level 0): every component is serving." if snapshot.level == 0
                else f"The system is degraded, {snapshot.summary}.")
        return Answer(text, SOURCES.ANSWER_SOURCE_SYSTEM, columns, cells)

    # --- jobs ---------------------------------------------------------------------------
    async def _list_jobs(self, state: int, *, since: datetime | None = None, pages: int = 5) -> list:
        if self.monitor.is_down("training"):
            raise TrainingDown(f"the training service is down ({self._training_message()})")
        jobs, token = [], ""
        for _ in range(pages):
            try:
                reply = await self.training.ListTrainingJobs(
                    training_service_pb2.ListTrainingJobsRequest(page_size=100, page_token=token, state=state),
                    timeout=self.timeout_s)
            except (grpc.aio.AioRpcError, ChatDBError) as exc:
                error = as_domain_error(exc)
                raise TrainingDown(f"the training service did not answer ({error.code.name}: {error.message})") from None
            for job in reply.training_jobs:
                if since is not None and job.create_time.ToDatetime(UTC) < since and \
                        job.end_time.ToDatetime(UTC) < since:
                    return jobs  # newest first: the rest are older
                jobs.append(job)
            token = reply.next_page_token
            if not token:
                break
        return jobs

    def _training_message(self) -> str:
        for health in self.monitor.last.components:
            if health.component == "training":
                return health.message or "not serving"
        return "not serving"

    async def _jobs(self, question: str) -> Answer:
        words = set(_WORD.findall(question.lower()))
        if words & {"queued", "queue", "pending", "waiting"} and not words & {"running", "active"}:
            states: tuple[int, ...] = (job_state_pb2.JOB_STATE_QUEUED,)
        elif words & {"running", "progress"} and not words & {"queued", "queue", "pending", "waiting"}:
            states = (job_state_pb2.JOB_STATE_RUNNING, job_state_pb2.JOB_STATE_CANCELLING)
        else:
            states = ACTIVE_STATES
        try:
            jobs = [job for state in states for job in await self._list_jobs(state)]
        except TrainingDown as exc:
            return Answer(f"I can't list training jobs: {exc}. Questions about your data are still answered.",
                          SOURCES.ANSWER_SOURCE_SYSTEM, notes=[str(exc)])
        jobs.sort(key=lambda job: job.create_time.ToDatetime(UTC), reverse=True)
        rows = [(job.job_id, job.model_name, STATE_NAMES.get(job.state, str(job.state)),
                 round(job.progress.fraction * 100, 1), job.create_time.ToDatetime(UTC)) for job in jobs]
        columns, cells = table(("job", "model", "state", "progress_pct", "created"), rows,
                               (TEXT, TEXT, TEXT, DOUBLE, TIMESTAMP))
        named = " or ".join(STATE_NAMES[s] for s in states if s != job_state_pb2.JOB_STATE_CANCELLING)
        if not jobs:
            text = f"No training jobs are {named}."
        else:
            counts = {}
            for job in jobs:
                counts[STATE_NAMES[job.state]] = counts.get(STATE_NAMES[job.state], 0) + 1
            text = "Training jobs: " + ", ".join(f"{n} {state}" for state, n in counts.items()) + "."
        return Answer(text, SOURCES.ANSWER_SOURCE_SYSTEM, columns, cells)

    # --- failures -----------------------------------------------------------------------
    async def _failures(self) -> Answer:
        since = local_midnight()
        notes: list[str] = []
        rows: list[tuple] = []
        try:
            failed_jobs = await self._list_jobs(job_state_pb2.JOB_STATE_FAILED, since=since)
        except TrainingDown as exc:
            failed_jobs = None
            notes.append(f"failed training jobs are not listed: {exc}")
        for job in failed_jobs or []:
            when = (job.end_time if job.HasField("end_time") else job.update_time).ToDatetime(UTC)
            if when < since:
                continue
            rows.append(("training job", job.job_id, f"train {job.model_name}", job.error.message, when))
        try:
            questions = await self.failed_questions(since)
        except ChatDBError as exc:  # the history lives in the platform database, which may be down
            questions = []
            notes.append(f"failed questions are not listed: the question history is unavailable ({exc.message})")
        for item in questions:
            rows.append(("question", str(item.get("query_id", "")), str(item.get("question", "")),
                         str(item.get("error", "")), item.get("create_time")))
        rows.sort(key=lambda row: row[4] or since, reverse=True)
        columns, cells = table(("kind", "id", "what", "error", "time"), rows, (TEXT, TEXT, TEXT, TEXT, TIMESTAMP))
        job_count = sum(1 for row in rows if row[0] == "training job")
        question_count = len(rows) - job_count
        if notes:
            text = (f"Since midnight {job_count} training job(s) and {question_count} question(s) failed, "
                    f"as far as I can tell: " + "; ".join(notes) + ".")
        elif not rows:
            text = "Nothing failed today: no training job and no question since midnight."
        else:
            text = f"Since midnight {job_count} training job(s) and {question_count} question(s) failed."
        return Answer(text, SOURCES.ANSWER_SOURCE_SYSTEM, columns, cells, notes=notes)


def open_system_questions(settings: Settings, stack: AsyncExitStack, *, monitor: StatusMonitor,
                          failed_questions: FailedQuestions) -> SystemQuestions:
    """SystemQuestions over a channel to the training service (closed by `stack`); a
    job list waits at most the gateway's status timeout times ten, a person's patience
    for "which jobs are running?" rather than a health check's."""
    channel = open_channel(settings, "training", map_errors=True)
    stack.push_async_callback(channel.close)
    return SystemQuestions(monitor=monitor, training=training_service_pb2_grpc.TrainingServiceStub(channel),
                           failed_questions=failed_questions, timeout_s=max(1.0, settings.gateway_status_timeout_s * 10))
