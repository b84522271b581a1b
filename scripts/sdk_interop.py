"""Calls `ims-gateway simulator` with Huawei Cloud's official Python SDK (huaweicloudsdkims).

The SDK signs every call with SDK-HMAC-SHA256 and parses every answer, so this proves the
simulator's signature check and response shapes agree with the real client. Run by
scripts/sdk-interop.sh, which starts the simulator and passes everything in the environment:

  IMS_ENDPOINT        http://127.0.0.1:PORT
  IMS_AK, IMS_SK      the access key the simulator accepts (IMS_SK is secret: never printed)
  IMS_PROJECT_ID      the member project
  IMS_SHARED_IMAGE    an image shared with that project
  IMS_OTHER_IMAGE     an image that is not
  IMS_DEADLINE_S      how long to wait for a job, in seconds

Exits non-zero with a message on the first mismatch.
"""

import os
import sys
import time

from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdkcore.http.http_config import HttpConfig
from huaweicloudsdkims.v2 import (
    BatchUpdateMembersRequest,
    BatchUpdateMembersRequestBody,
    ImsClient,
    ShowJobProgressRequest,
    ShowJobRequest,
)

FINAL = {"SUCCESS", "FAIL"}


def fail(message):
    print(f"sdk_interop: {message}", file=sys.stderr)
    sys.exit(1)


def check(condition, message):
    if not condition:
        fail(message)


def client(endpoint, ak, sk, project_id):
    """An ImsClient pointed at `endpoint` instead of a region: with_endpoints, no with_region,
    so the SDK neither looks the project up in IAM nor resolves a cloud host."""
    config = HttpConfig.get_default_config()
    config.timeout = (5, 10)
    return (
        ImsClient.new_builder()
        .with_http_config(config)
        .with_credentials(BasicCredentials(ak, sk, project_id))
        .with_endpoints([endpoint])
        .build()
    )


def submit(ims, project_id, images, status="accepted"):
    body = BatchUpdateMembersRequestBody(images=images, project_id=project_id, status=status)
    response = ims.batch_update_members(BatchUpdateMembersRequest(body=body))
    check(response.status_code == 200, f"BatchUpdateMembers answered {response.status_code}")
    check(isinstance(response.job_id, str) and response.job_id, f"no job_id in {response}")
    return response.job_id


def wait(ims, job_id, deadline_s):
    """Polls ShowJob until the job is final; returns the last ShowJobResponse."""
    deadline = time.monotonic() + deadline_s
    seen = []
    while True:
        job = ims.show_job(ShowJobRequest(job_id=job_id))
        check(job.job_id == job_id, f"ShowJob answered job_id {job.job_id!r}, expected {job_id!r}")
        check(job.job_type == "imsUpdateImageMembersJob", f"ShowJob job_type {job.job_type!r}")
        seen.append(job.status)
        if job.status in FINAL:
            return job, seen
        check(job.status in {"INIT", "RUNNING"}, f"ShowJob status {job.status!r} is neither running nor final")
        check(time.monotonic() < deadline, f"job {job_id} not final after {deadline_s} s (statuses {seen})")
        time.sleep(0.2)


def expect_refused(call, status, code, what):
    try:
        call()
    except ClientRequestException as error:
        check(error.status_code == status, f"{what}: status {error.status_code}, expected {status}")
        check(error.error_code == code, f"{what}: error_code {error.error_code!r}, expected {code!r}")
        check(error.request_id, f"{what}: the SDK kept no X-Request-Id")
        return error
    fail(f"{what}: the call succeeded, expected {status} {code}")


def main():
    endpoint = os.environ["IMS_ENDPOINT"]
    ak = os.environ["IMS_AK"]
    sk = os.environ["IMS_SK"]
    project_id = os.environ["IMS_PROJECT_ID"]
    shared = os.environ["IMS_SHARED_IMAGE"]
    other = os.environ["IMS_OTHER_IMAGE"]
    deadline_s = float(os.environ.get("IMS_DEADLINE_S", "20"))

    ims = client(endpoint, ak, sk, project_id)

    # 1. A shared image: the job runs, then SUCCESS with per-image results on ShowJob.
    job_id = submit(ims, project_id, [shared])
    progress = ims.show_job_progress(ShowJobProgressRequest(job_id=job_id))
    check(progress.job_id == job_id, f"ShowJobProgress job_id {progress.job_id!r}")
    check(progress.status in {"INIT", "RUNNING", "SUCCESS"}, f"ShowJobProgress status {progress.status!r}")
    job, seen = wait(ims, job_id, deadline_s)
    check(job.status == "SUCCESS", f"job {job_id} ended {job.status}: {job.fail_reason}")
    check("RUNNING" in seen or "INIT" in seen, f"the job was never seen running: {seen}")
    check(job.begin_time and job.end_time, f"begin_time {job.begin_time!r}, end_time {job.end_time!r}")
    results = job.entities.results if job.entities else None
    check(results is not None and len(results) == 1, f"entities.results {results!r}")
    check(
        (results[0].image_id, results[0].project_id, results[0].status) == (shared, project_id, "success"),
        f"entities.results[0] {results[0]!r}",
    )
    progress = ims.show_job_progress(ShowJobProgressRequest(job_id=job_id))
    check(progress.status == "SUCCESS", f"ShowJobProgress status {progress.status!r} after SUCCESS")
    check(progress.entities is not None, "ShowJobProgress has no entities")

    # 2. An image that is not shared: the whole job FAILs with IMG.0104 and per-image results.
    failed_job, _ = wait(ims, submit(ims, project_id, [shared, other]), deadline_s)
    check(failed_job.status == "FAIL", f"job with an unshared image ended {failed_job.status}")
    check(failed_job.error_code == "IMG.0104", f"FAIL error_code {failed_job.error_code!r}")
    statuses = {r.image_id: r.status for r in failed_job.entities.results}
    check(statuses == {shared: "success", other: "failed"}, f"FAIL results {statuses}")

    # 3. IMS's own errors reach the SDK as ClientRequestException with the IMG code.
    expect_refused(
        lambda: ims.show_job(ShowJobRequest(job_id="ff80808100000000000000000000dead")), 404, "IMG.0404", "unknown job")
    expect_refused(
        lambda: submit(ims, "0123456789abcdef0123456789abcdef", [shared]), 403, "IMG.0003", "another project's body")

    # 4. The right AK with a wrong SK: the signature does not verify.
    wrong_sk = client(endpoint, ak, sk[::-1] + "x", project_id)
    error = expect_refused(lambda: submit(wrong_sk, project_id, [shared]), 401, "APIGW.0301", "wrong SK")
    check(sk not in str(error), "the SK appears in the SDK's exception")
    expect_refused(lambda: wrong_sk.show_job(ShowJobRequest(job_id=job_id)), 401, "APIGW.0301", "wrong SK on ShowJob")

    # 5. An unknown AK.
    unknown = client(endpoint, "HPUAUNKNOWNAK0000001", sk, project_id)
    expect_refused(lambda: submit(unknown, project_id, [shared]), 401, "APIGW.0301", "unknown AK")

    print(f"sdk_interop: BatchUpdateMembers, ShowJob, ShowJobProgress, FAIL job, 404, 403 and 3 refused signatures as expected")


if __name__ == "__main__":
    main()
