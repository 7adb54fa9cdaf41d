"""``POST /example/jobs`` and ``GET /example/jobs/{job_id}``: work taken off the request path, the way a plugin does it.

The plugin offers a job function through ``sheepfold_jobs`` (on its own
queue, ``example``), enqueues it from a route and answers at once with the
job's id; a second route reports the job's status and, once it finished,
its result. With jobs on memory (``make run``) the server runs the job
itself; with ``jobs.backend = "arq"`` any ``sheepfold worker`` does.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from blacksheep import Response, Router, json

from sheepfold import JSONBody, Length, Platform, json_response, problem, problem_response, route_docs
from sheepfold.jobs import JobContext, JobDefinition, Jobs, JobStatus, Priority, RetryPolicy

QUEUE = "example"
MAX_TEXT = 10_000


async def count_words(ctx: JobContext, text: str) -> dict[str, Any]:
    """The "heavy" work: counting words, with a pause that stands for real effort.

    Idempotent, as every job must be: running it twice (``ctx.job_try > 1``
    after a worker died) gives the same answer and changes nothing else.
    """
    await asyncio.sleep(0.2)
    words = text.split()
    return {"words": len(words), "distinct": len({word.lower() for word in words}), "try": ctx.job_try}


@dataclass
class WordCount:
    """The body of ``POST /example/jobs``."""

    text: Annotated[str, Length(1, MAX_TEXT)]
    priority: Literal["high", "normal", "low"] = "normal"


@dataclass
class Enqueued:
    job_id: str
    status: str


@dataclass
class JobState:
    job_id: str
    status: Literal["deferred", "queued", "in_progress", "complete", "failed", "not_found"]
    result: Any = None
    error: str | None = None
    tries: int | None = None


JOBS = [JobDefinition(count_words, queue=QUEUE, timeout=30, max_tries=3, retry=RetryPolicy(base=1.0))]


def add_routes(router: Router, platform: Platform) -> None:
    @route_docs(summary="Count the words of a text, as a job", responses={202: json_response("Enqueued", Enqueued)})
    async def enqueue(body: JSONBody[WordCount]) -> Response:
        priority = Priority.parse(body.value.priority)
        job_id = await platform.require(Jobs).enqueue("count_words", (body.value.text,), priority=priority)
        return json({"job_id": job_id, "status": f"/example/jobs/{job_id}"}, status=202)

    @route_docs(
        summary="A job's status, and its result once it ended",
        responses={200: json_response("The job", JobState), 404: problem_response("No such job (or it expired).")},
    )
    async def status(job_id: str) -> Response:
        jobs = platform.require(Jobs)
        state = await jobs.status(job_id)
        if state is JobStatus.NOT_FOUND:
            return problem(404, "No such job (or its result has expired).")
        answer: dict[str, Any] = {"job_id": job_id, "status": state.value}
        result = await jobs.result(job_id) if state in (JobStatus.COMPLETE, JobStatus.FAILED) else None
        if result is not None:
            answer.update(result=result.value, error=result.error, tries=result.tries)
        return json(answer)

    router.add_post("/example/jobs", enqueue)
    router.add_get("/example/jobs/{job_id}", status)
