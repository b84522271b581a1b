import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// Simulated IMS: BatchUpdateMembers (`PUT /v1/cloudimages/members`), ShowJob
/// (`GET /v1/{project_id}/jobs/{job_id}`) and ShowJobProgress (`GET /v1/cloudimages/job/{job_id}`),
/// behind an API gateway that checks `X-Auth-Token`.
struct IMSController {
    let state: SimulatorState
    private static let authTokenHeader = HTTPField.Name("X-Auth-Token")!

    func addRoutes(to router: Router<BasicRequestContext>) {
        router.put("/v1/cloudimages/members") { request, _ in
            try await batchUpdateMembers(request)
        }
        router.get("/v1/cloudimages/job/:job_id") { request, context in
            showJob(request, projectID: nil, jobID: context.parameters.get("job_id") ?? "", progress: true)
        }
        router.get("/v1/:project_id/jobs/:job_id") { request, context in
            showJob(
                request, projectID: context.parameters.get("project_id") ?? "",
                jobID: context.parameters.get("job_id") ?? "", progress: false)
        }
    }

    /// The API gateway's check: a known, unexpired token, else 401 APIGW.0301 / APIGW.0307.
    private enum Authentication {
        case success(SimulatorState.Token)
        case failure(Response)
    }

    private func authenticate(_ request: Request) -> Authentication {
        guard let value = request.headers[Self.authTokenHeader], let token = state.token(value) else {
            state.countAuthFailure()
            return .failure(SimulatorResponses.gatewayError(
                .unauthorized, code: "APIGW.0301", message: "Incorrect IAM authentication information: verify aksk signature fail"))
        }
        guard token.expiresAt > Date() else {
            state.countAuthFailure()
            return .failure(SimulatorResponses.gatewayError(
                .unauthorized, code: "APIGW.0307", message: "The token must be updated."))
        }
        return .success(token)
    }

    private func batchUpdateMembers(_ request: Request) async throws -> Response {
        state.count("BatchUpdateMembers")
        let token: SimulatorState.Token
        switch authenticate(request) {
        case .success(let value): token = value
        case .failure(let response): return response
        }
        let body = try await request.body.collect(upTo: 1 << 20)
        guard let object = try? JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [String: Any] else {
            return SimulatorResponses.imsError(.badRequest, code: "IMG.0001", message: "The request body is not a JSON object.")
        }
        guard let images = object["images"] as? [String], !images.isEmpty else {
            return SimulatorResponses.imsError(.badRequest, code: "IMG.0001", message: "Invalid parameter: images.")
        }
        guard let projectID = object["project_id"] as? String, !projectID.isEmpty else {
            return SimulatorResponses.imsError(.badRequest, code: "IMG.0001", message: "Invalid parameter: project_id.")
        }
        guard let status = object["status"] as? String, ["accepted", "rejected"].contains(status) else {
            return SimulatorResponses.imsError(.badRequest, code: "IMG.0001", message: "Invalid parameter: status.")
        }
        if let vault = object["vault_id"], !(vault is String) {
            return SimulatorResponses.imsError(.badRequest, code: "IMG.0001", message: "Invalid parameter: vault_id.")
        }
        guard projectID == token.projectID else {
            return SimulatorResponses.imsError(
                .forbidden, code: "IMG.0003", message: "The project_id does not match the token's project.")
        }
        let job = state.createJob(projectID: projectID, images: images, memberStatus: status)
        return SimulatorResponses.json(.ok, ["job_id": job.id])
    }

    private func showJob(_ request: Request, projectID: String?, jobID: String, progress: Bool) -> Response {
        state.count(progress ? "ShowJobProgress" : "ShowJob")
        let token: SimulatorState.Token
        switch authenticate(request) {
        case .success(let value): token = value
        case .failure(let response): return response
        }
        if let projectID, projectID != token.projectID {
            return SimulatorResponses.imsError(
                .forbidden, code: "IMG.0003", message: "The project in the path does not match the token's project.")
        }
        guard let job = state.job(jobID), job.projectID == token.projectID else {
            return SimulatorResponses.imsError(.notFound, code: "IMG.0404", message: "The job does not exist.")
        }
        return SimulatorResponses.json(.ok, document(for: job, progress: progress))
    }

    /// The job as IMS reports it now; the FAIL shape is the one IMS-REFERENCE.md section 2 assumes.
    private func document(for job: SimulatorState.SimJob, progress: Bool) -> [String: Any] {
        let elapsed = job.createdAt.duration(to: .now)
        let initPhase = min(job.duration * 0.1, .milliseconds(200))
        var document: [String: Any] = [
            "job_id": job.id,
            "job_type": "imsUpdateImageMembersJob",
            "begin_time": SimulatorResponses.timestamp(job.createdAtDate),
            "end_time": "",
            "error_code": NSNull(),
            "fail_reason": NSNull(),
        ]
        var entities: [String: Any] = [:]
        if elapsed < job.duration {
            document["status"] = elapsed < initPhase ? "INIT" : "RUNNING"
            document["entities"] = entities
            return document
        }
        let seconds = Double(job.duration.components.seconds) + Double(job.duration.components.attoseconds) / 1e18
        document["end_time"] = SimulatorResponses.timestamp(job.createdAtDate.addingTimeInterval(seconds))
        if job.notShared.isEmpty {
            document["status"] = "SUCCESS"
        } else {
            document["status"] = "FAIL"
            document["error_code"] = "IMG.0104"
            document["fail_reason"] = "image \(job.notShared[0]) is not shared with project \(job.projectID)"
        }
        if progress {
            entities["subJobId"] = ""
        } else {
            entities["results"] = job.images.map { image -> [String: Any] in
                let failed = job.notShared.contains(image)
                return ["image_id": image, "project_id": job.projectID, "status": failed ? "failed" : "success"]
            }
        }
        document["entities"] = entities
        return document
    }
}
