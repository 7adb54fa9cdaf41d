from __future__ import annotations

import sheepfold_example.plugin as example
import sheepfold_ratelimit.plugin as ratelimit


async def test_limited_answers_five_times_a_minute_then_429_with_the_headers(sheepfold_app):
    client = (await sheepfold_app(plugins=[ratelimit, example])).client
    responses = [await client.get("/example/limited") for _ in range(6)]
    assert [r.status for r in responses] == [200] * 5 + [429]
    assert responses[0].headers.get_first(b"RateLimit-Policy") == b'"example";q=5;w=60'
    assert responses[0].headers.get_first(b"RateLimit") == b'"example";r=4;t=60'
    assert int(responses[-1].headers.get_first(b"Retry-After")) >= 1
