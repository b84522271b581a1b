import IMSClient
import JSONText

extension MemberStatusResult {
    /// The document as the bytes of compact JSON with sorted keys, written by hand: the same
    /// bytes `JSONEncoder` with `.sortedKeys` and `.withoutEscapingSlashes` writes (a test holds
    /// them equal), at a fraction of its cost (BENCHMARKS.md, "The store's CPU"). Nil fields
    /// are left out, as the synthesized `Encodable` leaves them out.
    var jsonUTF8: [UInt8] {
        var object = JSONObjectWriter()
        object.add("batches", batches.map(\.jsonObject))
        object.add("elapsed_ms", elapsedMs)
        object.add("member_status", memberStatus.rawValue)
        object.add("outcome", outcome.rawValue)
        object.add("project_id", projectID)
        object.add("request_id", requestID)
        object.add("totals", totals.jsonObject)
        object.add("warnings", warnings)
        return object.utf8
    }
}

extension BatchResult {
    /// The batch's members in sorted key order (``MemberStatusResult/jsonUTF8``; the data of
    /// a `batch` event).
    var jsonObject: JSONObjectWriter {
        var object = JSONObjectWriter()
        object.addIfPresent("begin_time", beginTime)
        object.addIfPresent("end_time", endTime)
        object.addIfPresent("error_code", errorCode)
        object.addIfPresent("fail_reason", failReason)
        object.add("images", images)
        object.add("index", index)
        object.addIfPresent("job_id", jobID)
        object.addIfPresent("job_status", jobStatus)
        object.add("polls", polls)
        if let results {
            object.add("results", results.map(\.jsonObject))
        }
        object.add("state", state.rawValue)
        object.add("submit_attempts", submitAttempts)
        return object
    }
}

extension ImageMemberResult {
    /// `{"image_id":...,"project_id":...,"status":...}`, nil fields left out.
    var jsonObject: JSONObjectWriter {
        var object = JSONObjectWriter()
        object.addIfPresent("image_id", imageID)
        object.addIfPresent("project_id", projectID)
        object.addIfPresent("status", status)
        return object
    }
}

extension ResultTotals {
    /// The counts in sorted key order (``MemberStatusResult/jsonUTF8``).
    fileprivate var jsonObject: JSONObjectWriter {
        var object = JSONObjectWriter()
        object.add("batches", batches)
        object.add("failed", failed)
        object.add("images", images)
        object.add("not_submitted", notSubmitted)
        object.add("pending", pending)
        object.add("queued", queued)
        object.add("submit_failed", submitFailed)
        object.add("succeeded", succeeded)
        object.add("upstream_calls", upstreamCalls)
        return object
    }
}
