import Foundation
import HTTPTypes
import Hummingbird
import IMSClient
import NIOCore

/// Simulated IMS: BatchUpdateMembers (`PUT /v1/cloudimages/members`), ShowJob
/// (`GET /v1/{project_id}/jobs/{job_id}`) and ShowJobProgress (`GET /v1/cloudimages/job/{job_id}`),
/// behind an API gateway that accepts an IAM token in `X-Auth-Token` or an AK/SK signature in
/// `Authorization: SDK-HMAC-SHA256 ...`.
struct IMSController {
    let state: SimulatorState
    let verifier: AKSKVerifier
    private static let authTokenHeader = HTTPField.Name("X-Auth-Token")!
    /// Largest request body read, in bytes; the signature covers all of it.
    private static let maxBodyBytes = 1 << 20

    init(state: SimulatorState) {
        self.state = state
        self.verifier = AKSKVerifier(accessKeys: state.configuration.accessKeys)
    }

    func addRoutes(to router: Router<BasicRequestContext>) {
        router.put("/v1/cloudimages/members") { request, _ in
            let body = try await Self.collectBody(request)
            return batchUpdateMembers(request, body: body)
        }
        router.get("/v1/cloudimages/job/:job_id") { request, context in
            let body = try await Self.collectBody(request)
            return showJob(
                request, body: body, projectID: nil, jobID: context.parameters.get("job_id") ?? "", progress: true)
        }
        router.get("/v1/:project_id/jobs/:job_id") { request, context in
            let body = try await Self.collectBody(request)
            return showJob(
                request, body: body, projectID: context.parameters.get("project_id") ?? "",
                jobID: context.parameters.get("job_id") ?? "", progress: false)
        }
    }

    /// The whole body, read once, because an AK/SK signature covers its bytes.
    private static func collectBody(_ request: Request) async throws -> [UInt8] {
        var request = request
        let buffer = try await request.collectBody(upTo: maxBodyBytes)
        return Array(buffer.readableBytesView)
    }

    /// The API gateway's check, else 401 APIGW.0301 / APIGW.0307.
    private enum Authentication {
        /// The caller may act in `projectID`: the token's project, or the signed `X-Project-Id`.
        case success(projectID: String)
        case failure(Response)
    }

    /// A request with `X-Auth-Token` is checked as before; one without it but with an
    /// SDK-HMAC-SHA256 `Authorization` is checked by ``AKSKVerifier``.
    private func authenticate(_ request: Request, body: [UInt8]) -> Authentication {
        if request.headers[Self.authTokenHeader] == nil,
            let authorization = request.headers[.authorization], authorization.hasPrefix(AKSKSigner.algorithm + " ")
        {
            return authenticateSignature(request, authorization: authorization, body: body)
        }
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
        return .success(projectID: token.projectID)
    }

    private func authenticateSignature(_ request: Request, authorization: String, body: [UInt8]) -> Authentication {
        // HTTPTypes moves the Host header into the authority.
        var headers = request.headers.map { (name: $0.name.rawName, value: $0.value) }
        if let authority = request.head.authority { headers.append((name: "Host", value: authority)) }
        let target = request.head.path ?? "/"
        let path: String
        let query: String?
        if let question = target.firstIndex(of: "?") {
            path = String(target[..<question])
            query = String(target[target.index(after: question)...])
        } else {
            path = target
            query = nil
        }
        let received = AKSKVerifier.ReceivedRequest(
            method: request.method.rawValue, path: path, query: query, headers: headers, body: body)
        switch verifier.verify(received, authorization: authorization, now: Date()) {
        case .verified(let projectID):
            return .success(projectID: projectID)
        case .refused(let code, let message):
            state.countAuthFailure()
            return .failure(SimulatorResponses.gatewayError(.unauthorized, code: code, message: message))
        }
    }

    private func batchUpdateMembers(_ request: Request, body: [UInt8]) -> Response {
        state.count("BatchUpdateMembers")
        let callerProjectID: String
        switch authenticate(request, body: body) {
        case .success(let projectID): callerProjectID = projectID
        case .failure(let response): return response
        }
        guard let object = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any] else {
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
        guard projectID == callerProjectID else {
            return SimulatorResponses.imsError(
                .forbidden, code: "IMG.0003", message: "The project_id does not match the caller's project.")
        }
        let job = state.createJob(projectID: projectID, images: images, memberStatus: status)
        return SimulatorResponses.json(.ok, ["job_id": job.id])
    }

    private func showJob(_ request: Request, body: [UInt8], projectID: String?, jobID: String, progress: Bool) -> Response {
        state.count(progress ? "ShowJobProgress" : "ShowJob")
        let callerProjectID: String
        switch authenticate(request, body: body) {
        case .success(let projectID): callerProjectID = projectID
        case .failure(let response): return response
        }
        if let projectID, projectID != callerProjectID {
            return SimulatorResponses.imsError(
                .forbidden, code: "IMG.0003", message: "The project in the path does not match the caller's project.")
        }
        guard let job = state.job(jobID), job.projectID == callerProjectID else {
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
