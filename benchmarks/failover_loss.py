"""What a failover loses: sessions written just before the master dies, missing once its replica is promoted.

Each round starts a master and a replica of its own (redis-server on spare
loopback ports), has ``--writers`` tasks create sessions through
``RedisSessionRecords`` as fast as they can for ``--seconds``, SIGKILLs the
master in the middle of that, promotes the replica once it has seen the
master gone (``REPLICAOF NO ONE``, what Sentinel or a Cluster failover
does), and counts the sessions whose
create had returned True (the platform told the user "signed in") and that
the promoted replica does not have. Rounds run without ``WAIT`` and with
``redis.session_writes.wait_replicas = 1`` side by side; printed per
configuration: acknowledged writes per second, sessions lost per round,
and with ``WAIT`` how many writes the replica had not acknowledged within
``wait_timeout`` (only those may be lost).

    .venv/bin/python -m benchmarks.failover_loss --rounds 5
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import statistics
import time

from redis.asyncio import Redis

from sheepfold.errors import BackendUnavailable
from sheepfold.sessions import SessionRecord
from sheepfold_redis import RedisConnection, RedisSettings
from sheepfold_redis.sessions import RedisSessionRecords
from tests.support.redis_server import RedisServer


async def link_is(replica: Redis, status: str) -> None:
    """Return once the replica's link to its master is ``status`` (polled every 10 ms)."""
    while True:
        if (await replica.info("replication")).get("master_link_status") == status:
            return
        await asyncio.sleep(0.01)


async def one_round(wait_replicas: int, writers: int, seconds: float) -> tuple[int, int, int, float]:
    """Acknowledged creates, how many the promoted replica lacks, writes WAIT gave up on, seconds written."""
    with (
        RedisServer(extra=["--repl-diskless-sync-delay", "0"]) as master,
        RedisServer(extra=["--replicaof", "127.0.0.1", str(master.port)]) as replica,
    ):
        async with Redis(port=replica.port) as client:
            await link_is(client, "up")
        settings = RedisSettings(
            url=master.url,
            prefix=f"loss-{secrets.token_hex(4)}",
            command_timeout=1.0,
            session_wait_replicas=wait_replicas,
            session_wait_timeout=0.1,
            pool_size=writers,
            pool_timeout=1.0,
        )
        connection = RedisConnection(settings)
        sessions = RedisSessionRecords(connection)
        acknowledged: list[str] = []

        async def writer(number: int) -> None:
            for sequence in range(10**9):
                now = time.time()
                session_id = f"{number}-{sequence}"
                try:
                    if await sessions.create(session_id, SessionRecord(b"{}", None, 600.0, now + 600, now)):
                        acknowledged.append(session_id)
                except BackendUnavailable:
                    return

        started = time.monotonic()
        tasks = [asyncio.create_task(writer(number)) for number in range(writers)]
        await asyncio.sleep(seconds)
        master.kill()
        await asyncio.gather(*tasks)
        written_for = time.monotonic() - started
        await connection.close()
        async with Redis(port=replica.port) as promoted:
            # As Sentinel would, promote once the replica sees the master gone: it has read all that reached it.
            await link_is(promoted, "down")
            await promoted.execute_command("REPLICAOF", "NO", "ONE")
            missing = 0
            for at in range(0, len(acknowledged), 1000):
                batch = acknowledged[at : at + 1000]
                pipe = promoted.pipeline(transaction=False)
                for session_id in batch:
                    pipe.exists(sessions.session_key(session_id))
                missing += sum(1 for found in await pipe.execute() if not found)
        return len(acknowledged), missing, sessions.unreplicated_writes, written_for


async def main(args: argparse.Namespace) -> None:
    results: dict[int, list[tuple[int, int, int, float]]] = {0: [], 1: []}
    for _ in range(args.rounds):
        for wait_replicas in (0, 1):  # interleaved, so the machine's drift touches both alike
            results[wait_replicas].append(await one_round(wait_replicas, args.writers, args.seconds))
    for wait_replicas, rounds in results.items():
        rate = statistics.median(written / took for written, _, _, took in rounds)
        lost = [missing for _, missing, _, _ in rounds]
        unacknowledged = [gave_up for _, _, gave_up, _ in rounds]
        label = "no WAIT" if not wait_replicas else "wait_replicas = 1"
        print(
            f"{label:>18}: {rate:>8.0f} acknowledged session writes/s (median), "
            f"lost per round {lost} (of {[written for written, *_ in rounds]}), "
            f"WAIT gave up on {unacknowledged}"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--writers", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=1.0, help="writing before the master is killed")
    asyncio.run(main(parser.parse_args()))
