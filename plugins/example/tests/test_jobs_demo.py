from __future__ import annotations

import asyncio

from blacksheep.contents import JSONContent
from blacksheep.testing import TestClient

import sheepfold_example.plugin as example
from sheepfold import create_app


async def test_a_job_posted_to_example_jobs_runs_and_its_result_is_readable():
    app = create_app({}, plugins=[example], load_entry_points=False)
    await app.start()
    try:
        client = TestClient(app)
        response = await client.post("/example/jobs", content=JSONContent({"text": "the cat saw The dog"}))
        assert response.status == 202
        job_id = (await response.json())["job_id"]
        async with asyncio.timeout(5):
            while (answer := await (await client.get(f"/example/jobs/{job_id}")).json())["status"] != "complete":  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        assert answer["result"] == {"words": 5, "distinct": 4, "try": 1}
        assert (await client.post("/example/jobs", content=JSONContent({"text": ""}))).status == 422
        assert (await client.get("/example/jobs/unknown")).status == 404
    finally:
        await app.stop()
