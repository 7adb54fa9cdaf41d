from __future__ import annotations

import asyncio

from blacksheep.contents import JSONContent

import sheepfold_example.plugin as example


async def test_a_job_posted_to_example_jobs_runs_and_its_result_is_readable(sheepfold_app):
    client = (await sheepfold_app(plugins=[example])).client
    response = await client.post("/example/jobs", content=JSONContent({"text": "the cat saw The dog"}))
    assert response.status == 202
    job_id = (await response.json())["job_id"]
    async with asyncio.timeout(5):
        while (answer := await (await client.get(f"/example/jobs/{job_id}")).json())["status"] != "complete":  # noqa: ASYNC110
            await asyncio.sleep(0.05)
    assert answer["result"] == {"words": 5, "distinct": 4, "try": 1}
    assert (await client.post("/example/jobs", content=JSONContent({"text": ""}))).status == 422
    assert (await client.get("/example/jobs/unknown")).status == 404


async def test_with_eager_jobs_the_result_is_there_when_the_post_answers(sheepfold_app):
    client = (await sheepfold_app(plugins=[example], eager_jobs=True)).client
    job_id = (await (await client.post("/example/jobs", content=JSONContent({"text": "a b a"}))).json())["job_id"]
    answer = await (await client.get(f"/example/jobs/{job_id}")).json()
    assert answer["status"] == "complete" and answer["result"] == {"words": 3, "distinct": 2, "try": 1}
