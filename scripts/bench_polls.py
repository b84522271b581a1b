"""Drives the poll benchmark of scripts/bench-polls.sh (issue #5; BENCHMARKS.md).

Sends JOBS accept requests (one image each, CONCURRENCY at once) to a gateway, then reads each
job's end time from the simulator (GET /_sim/jobs/{job_id}) and prints, as JSON, the polls per
job and the extra wait: the time from the job's end at the simulator to the gateway's answer.
Standard library only.
"""
import json
import os
import statistics
import sys
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

gateway, simulator, key, project = sys.argv[1:5]
jobs = int(os.environ.get("JOBS", "1000"))
concurrency = int(os.environ.get("CONCURRENCY", "100"))


def image(index):
    return "d164b5df-1bc3-4c3f-893e-%012x" % index


def accept(index):
    body = json.dumps({"project_id": project, "images": [image(index)]}).encode()
    request = urllib.request.Request(
        gateway + "/accept-images", data=body, method="POST",
        headers={"Content-Type": "application/json", "Authorization": "Bearer " + key, "Prefer": "wait=120"})
    try:
        with urllib.request.urlopen(request, timeout=180) as response:
            answer = json.load(response)
            status = response.status
    except urllib.error.HTTPError as error:
        answer = json.load(error)
        status = error.code
    answered = time.time() * 1000
    batch = answer["batches"][0]
    return {"status": status, "job_id": batch.get("job_id"), "polls": batch.get("polls"), "answered_ms": answered}


started = time.time()
with ThreadPoolExecutor(max_workers=concurrency) as pool:
    results = list(pool.map(accept, range(jobs)))
elapsed = time.time() - started

polls, extra, durations, within = [], [], [], 0
for result in results:
    if result["status"] != 200 or not result["job_id"]:
        continue
    with urllib.request.urlopen(simulator + "/_sim/jobs/" + result["job_id"], timeout=10) as response:
        job = json.load(response)
    duration = job["duration_ms"]
    wait = max(0.0, result["answered_ms"] - job["ends_at"])
    polls.append(result["polls"])
    extra.append(wait)
    durations.append(duration)
    if wait <= max(0.1 * duration, 250):
        within += 1


def percentile(values, share):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


print(json.dumps({
    "jobs": jobs, "answered_200": len(polls), "seconds": round(elapsed, 1),
    "duration_ms_median": round(statistics.median(durations)),
    "polls_median": statistics.median(polls), "polls_p95": percentile(polls, 0.95),
    "extra_wait_ms_median": round(statistics.median(extra)), "extra_wait_ms_p95": round(percentile(extra, 0.95)),
    "within_target_share": round(within / max(1, len(polls)), 3),
}))
