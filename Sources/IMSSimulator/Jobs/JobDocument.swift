import Foundation

/// The body ShowJob or ShowJobProgress answers for a job at one instant, with the job's faults
/// applied (docs/IMS-API.md, "Job queries").
///
/// Both carry `status`, `job_id`, `job_type`, `begin_time`, `end_time` (`""` while running),
/// `error_code`, `fail_reason` and `entities`. ShowJob's final `entities` hold `results` (one
/// `{image_id, project_id, status}` per image, the shape the reference assumes); ShowJobProgress
/// never has `results`, and its `entities` always carry the camelCase `subJobId` of the SDK's
/// `JobProgressEntities`.
struct JobDocument {
    /// The JSON object to send.
    var object: [String: Any]
    /// The names of the job faults that changed it (`status_word`, `omit_field`).
    var injected: [String] = []

    /// - Parameters:
    ///   - job: the job.
    ///   - phase: where the job is now.
    ///   - progress: ShowJobProgress (`true`) or ShowJob (`false`).
    ///   - pollIndex: 0 for the job's first served poll (for faults limited to the first polls).
    init(job: SimJob, phase: SimJob.Phase, progress: Bool, pollIndex: Int) {
        object = [
            "job_id": job.id,
            "job_type": "imsUpdateImageMembersJob",
            "begin_time": SimulatorResponses.timestamp(job.createdAtDate),
            "end_time": "",
            "error_code": NSNull(),
            "fail_reason": NSNull(),
            "status": phase.rawValue,
        ]
        var entities: [String: Any] = progress ? ["subJobId": ""] : [:]
        if phase.isFinal {
            if let endsAt = job.endsAtDate { object["end_time"] = SimulatorResponses.timestamp(endsAt) }
            if let failure = job.failures.first {
                object["error_code"] = failure.code
                object["fail_reason"] = failure.reason
            }
            if !progress {
                let failed = Set(job.failures.map(\.imageID))
                entities["results"] = job.images.map { image -> [String: Any] in
                    ["image_id": image, "project_id": job.projectID, "status": failed.contains(image) ? "failed" : "success"]
                }
            }
        }
        object["entities"] = entities
        if let word = job.faults.statusWord, word.whileRunning != phase.isFinal {
            object["status"] = word.word
            injected.append("status_word")
        }
        for omission in job.faults.omissions where omission.polls.map({ pollIndex < $0 }) ?? true {
            object[omission.field.rawValue] = nil
            injected.append("omit_field")
        }
    }

    /// Whether the answer tells a caller that the job has ended: its `status` is SUCCESS, FAIL
    /// or FAILED in any letter case.
    var showsFinal: Bool {
        guard let status = (object["status"] as? String)?.uppercased() else { return false }
        return ["SUCCESS", "FAIL", "FAILED"].contains(status)
    }
}
