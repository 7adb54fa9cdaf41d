"""No-op jobs through sheepfold (arq adapter), raw arq and SAQ: enqueue/s, processing/s, pickup latency, idle CPU.

One run, one redis-server of its own on a spare loopback port. Each side gets one worker process
(pinned to core 0; the enqueuing client runs on core 1) with the same concurrency (100 jobs at
once). Sides:

- sheepfold: ``ArqJobs`` + ``QueueWorker`` (priority index, one-script claim, pub/sub wake-up);
- arq: a stock ``arq.Worker``, its defaults (polls every 0.5 s), ``max_jobs`` = concurrency;
- arq, 10 ms poll: the same with ``poll_delay=0.01`` (arq made fast by polling harder);
- SAQ: ``saq.Worker`` on a Redis queue, ``concurrency`` = concurrency (waits on Redis, no polling).

Each job does the same work on every side: one INCR of a counter (how the bench sees completions)
and, for pickup runs, one RPUSH of its pickup latency (job start minus enqueue time).

- enqueue/s: N jobs enqueued from 100 concurrent tasks, with the worker running;
- processing/s: N / time from the first enqueue to the last completion;
- pickup p50/p95: one job at a time into an idle queue, start minus enqueue (wall clock, one host);
- idle CPU: the worker process's CPU time over 10 s with nothing to do, in % of one core;
- sheepfold only: queue time of high-priority jobs enqueued behind a backlog of 10,000 normal ones.

    .venv/bin/python benchmarks/jobs.py [--jobs 5000] [--pickups 200] [--rounds 3]

SAQ is a benchmark-only dependency: ``pip install -r benchmarks/requirements.txt``.
"""

# ASYNC110/ASYNC220: the driver polls Redis for counters and starts worker processes from its event
# loop on purpose; neither happens inside a measured interval's hot path.
# ruff: noqa: ASYNC110, ASYNC220

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from harness import free_port
from redis.asyncio import Redis

CONCURRENCY = 100
COUNTER = "bench:done"
PICKUPS = "bench:pickups"
READY = "bench:ready"
SIDES = ("sheepfold", "arq", "arq-10ms", "saq")
IDLE_WINDOW = 10.0  # seconds; CPU time is counted in 10 ms ticks, so this resolves 0.1 % of a core

REDIS: Redis | None = None  # the worker process's client for the jobs' bookkeeping


async def _bookkeeping(sent_at: float) -> None:
    started = time.time()
    assert REDIS is not None
    if sent_at > 0:
        await REDIS.rpush(PICKUPS, started - sent_at)
    await REDIS.incr(COUNTER)


async def sheepfold_noop(ctx, sent_at: float) -> None:
    await _bookkeeping(sent_at)


async def arq_noop(ctx, sent_at: float) -> None:
    await _bookkeeping(sent_at)


async def saq_noop(ctx, *, sent_at: float) -> None:
    await _bookkeeping(sent_at)


# --- the worker processes ---------------------------------------------------------------------


def sheepfold_jobs(url: str):
    from sheepfold.jobs import JobDefinition, JobRegistry
    from sheepfold_jobs import ArqJobs
    from sheepfold_redis import RedisConnection, RedisSettings

    settings = RedisSettings(
        url=url, prefix="bench", pool_size=CONCURRENCY + 10, command_timeout=5, pool_timeout=5, connect_timeout=5
    )
    registry = JobRegistry([JobDefinition(sheepfold_noop, name="noop", timeout=60)], default_concurrency=CONCURRENCY)
    return ArqJobs(RedisConnection(settings), registry)


async def run_worker(side: str, url: str) -> None:
    global REDIS
    REDIS = Redis.from_url(url)
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(signum, stop.set)
    if side == "sheepfold":
        from sheepfold_jobs import WorkerPool

        pool = WorkerPool(sheepfold_jobs(url), ["default"], idle_poll=1.0)
        pool.start()
        await REDIS.set(READY, side)
        await stop.wait()
        await pool.stop()
    elif side.startswith("arq"):
        from arq.connections import RedisSettings, create_pool
        from arq.worker import Worker, func

        redis = await create_pool(RedisSettings.from_dsn(url))
        worker = Worker(
            functions=[func(arq_noop, name="noop")],
            redis_pool=redis,
            max_jobs=CONCURRENCY,
            handle_signals=False,
            log_results=False,
            poll_delay=0.01 if side == "arq-10ms" else 0.5,
        )
        task = asyncio.get_running_loop().create_task(worker.main())
        await REDIS.set(READY, side)
        await stop.wait()
        task.cancel()
    else:
        from saq import Queue, Worker

        queue = Queue.from_url(url, name="bench")
        worker = Worker(queue, functions=[("noop", saq_noop)], concurrency=CONCURRENCY)
        task = asyncio.get_running_loop().create_task(worker.start())
        await REDIS.set(READY, side)
        await stop.wait()
        await worker.stop()
        task.cancel()


# --- the enqueuing side -----------------------------------------------------------------------


class Enqueuer:
    """``await enqueue(sent_at)`` for one side, on the side's own client."""

    def __init__(self, side: str, url: str) -> None:
        self.side, self.url = side, url

    async def start(self) -> None:
        if self.side == "sheepfold":
            self.jobs = sheepfold_jobs(self.url)
        elif self.side.startswith("arq"):
            from arq.connections import RedisSettings, create_pool

            self.arq = await create_pool(RedisSettings.from_dsn(self.url))
        else:
            from saq import Queue

            self.saq = Queue.from_url(self.url, name="bench")
            await self.saq.connect()

    async def enqueue(self, sent_at: float) -> None:
        if self.side == "sheepfold":
            await self.jobs.enqueue("noop", (sent_at,))
        elif self.side.startswith("arq"):
            await self.arq.enqueue_job("noop", sent_at)
        else:
            await self.saq.enqueue("noop", sent_at=sent_at)

    async def close(self) -> None:
        if self.side == "sheepfold":
            await self.jobs.connection.close()
        elif self.side.startswith("arq"):
            await self.arq.aclose()
        else:
            await self.saq.disconnect()


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pinned(core: int, command: list[str]) -> list[str]:
    return ["taskset", "-c", str(core), *command] if shutil.which("taskset") and (os.cpu_count() or 1) > 1 else command


async def measure(side: str, url: str, jobs: int, pickups: int) -> dict[str, float]:
    client = Redis.from_url(url)
    await client.flushdb()
    worker = subprocess.Popen(pinned(0, [sys.executable, __file__, "--worker", side, "--url", url]))
    enqueuer = Enqueuer(side, url)
    try:
        async with asyncio.timeout(60):
            while await client.get(READY) is None:
                await asyncio.sleep(0.05)
        await enqueuer.start()
        await asyncio.sleep(1.0)  # let start-up settle

        before = cpu_seconds(worker.pid)
        await asyncio.sleep(IDLE_WINDOW)
        idle_cpu = (cpu_seconds(worker.pid) - before) / IDLE_WINDOW * 100

        latencies = []
        for _ in range(pickups):
            await enqueuer.enqueue(time.time())
            _, value = await client.blpop(PICKUPS, timeout=10)
            latencies.append(float(value) * 1000)
            await asyncio.sleep(0.01)
        await client.delete(COUNTER)

        started = time.perf_counter()
        queue: asyncio.Queue[None] = asyncio.Queue()
        for _ in range(jobs):
            queue.put_nowait(None)

        async def enqueue_all() -> None:
            while not queue.empty():
                queue.get_nowait()
                await enqueuer.enqueue(0.0)

        await asyncio.gather(*(enqueue_all() for _ in range(100)))
        enqueued = time.perf_counter() - started
        async with asyncio.timeout(300):
            while int(await client.get(COUNTER) or 0) < jobs:
                await asyncio.sleep(0.005)
        processed = time.perf_counter() - started
        quantiles = statistics.quantiles(latencies, n=20)
        return {
            "enqueue/s": jobs / enqueued,
            "processing/s": jobs / processed,
            "pickup p50 ms": statistics.median(latencies),
            "pickup p95 ms": quantiles[18],
            "idle CPU %": idle_cpu,
        }
    finally:
        await enqueuer.close()
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=15)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
        await client.aclose()


async def priority_under_backlog(url: str, backlog: int = 10_000, probes: int = 50) -> tuple[float, float]:
    """Queue time (ms) of high-priority jobs enqueued one by one behind ``backlog`` normal jobs."""
    client = Redis.from_url(url)
    await client.flushdb()
    jobs = sheepfold_jobs(url)
    for start in range(0, backlog, 500):
        await asyncio.gather(*(jobs.enqueue("noop", (0.0,)) for _ in range(start, min(start + 500, backlog))))
    worker = subprocess.Popen(pinned(0, [sys.executable, __file__, "--worker", "sheepfold", "--url", url]))
    try:
        async with asyncio.timeout(60):
            while await client.get(READY) is None:
                await asyncio.sleep(0.05)
        latencies, behind = [], []
        for _ in range(probes):
            behind.append(backlog - int(await client.get(COUNTER) or 0))
            await jobs.enqueue("noop", (time.time(),), priority="high")
            _, value = await client.blpop(PICKUPS, timeout=30)
            latencies.append(float(value) * 1000)
            await asyncio.sleep(0.02)
        print(f"  normal jobs still waiting when the high-priority probes were enqueued: {min(behind)}..{max(behind)}")
        return statistics.median(latencies), statistics.quantiles(latencies, n=20)[18]
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=15)
        await jobs.connection.close()
        await client.aclose()


async def main(jobs: int, pickups: int, rounds: int) -> None:
    port = free_port()
    directory = tempfile.mkdtemp(prefix="sheepfold-bench-jobs-")
    redis = subprocess.Popen(
        pinned(1, ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                   "--dir", directory, "--loglevel", "warning"]),
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"redis://127.0.0.1:{port}/0"
    try:
        await asyncio.sleep(0.5)
        samples: dict[str, list[dict[str, float]]] = {side: [] for side in SIDES}
        for round_number in range(rounds):  # interleaved, so machine noise spreads evenly over the sides
            for side in SIDES:
                print(f"round {round_number + 1}/{rounds}: {side} ...", flush=True)
                samples[side].append(await measure(side, url, jobs, pickups))
        columns = list(samples["saq"][0])
        results = {
            side: {column: statistics.median(run[column] for run in runs) for column in columns}
            for side, runs in samples.items()
        }
        print(
            f"\n{jobs} no-op jobs, concurrency {CONCURRENCY}, one worker process per side, median of {rounds} rounds\n"
        )
        print(f"{'side':<12}" + "".join(f"{column:>16}" for column in columns))
        for side, row in results.items():
            print(f"{side:<12}" + "".join(f"{row[column]:>16.1f}" for column in columns))
        ours, saq = results["sheepfold"], results["saq"]
        print("\nsheepfold / SAQ: " + ", ".join(f"{c} {ours[c] / saq[c]:.2f}" for c in ("enqueue/s", "processing/s")))
        arq = results["arq"]
        print("sheepfold / arq: " + ", ".join(f"{c} {ours[c] / arq[c]:.2f}" for c in columns if arq[c]))
        print("\nhigh priority behind 10,000 normal jobs (sheepfold):")
        p50, p95 = await priority_under_backlog(url)
        print(f"  queue time p50 {p50:.1f} ms, p95 {p95:.1f} ms (goal: p95 < 1000 ms)")
    finally:
        redis.terminate()
        redis.wait(timeout=10)
        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=5000)
    parser.add_argument("--pickups", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--worker", choices=SIDES)
    parser.add_argument("--url")
    options = parser.parse_args()
    if options.worker:
        asyncio.run(run_worker(options.worker, options.url))
    else:
        asyncio.run(main(options.jobs, options.pickups, options.rounds))
