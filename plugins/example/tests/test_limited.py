from __future__ import annotations

from blacksheep.testing import TestClient

import sheepfold_example.plugin as example
import sheepfold_ratelimit.plugin as ratelimit
from sheepfold import create_app


async def test_limited_answers_five_times_a_minute_then_429_with_the_headers():
    app = create_app({}, plugins=[ratelimit, example], load_entry_points=False)
    await app.start()
    try:
        client = TestClient(app)
        responses = [await client.get("/example/limited") for _ in range(6)]
    finally:
        await app.stop()
    assert [r.status for r in responses] == [200] * 5 + [429]
    assert responses[0].headers.get_first(b"RateLimit-Policy") == b'"example";q=5;w=60'
    assert responses[0].headers.get_first(b"RateLimit") == b'"example";r=4;t=60'
    assert int(responses[-1].headers.get_first(b"Retry-After")) >= 1
