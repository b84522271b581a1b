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
    let gate: FaultGate
    private static let authTokenHeader = HTTPField.Name("X-Auth-Token")!
    /// Largest request body read, in bytes; the signature covers all of it.
    private static let maxBodyBytes = 1 << 20

    init(state: SimulatorState) {
        self.state = state
        self.verifier = AKSKVerifier(accessKeys: state.configuration.accessKeys)
        self.gate = FaultGate(state: state)
    }

    func addRoutes(to router: Router<SimulatorRequestContext>) {
        router.put("/v1/cloudimages/members") { request, context in
            try await gate.serve(.batchUpdateMembers, context: context) { _ in
                let body = try await Self.collectBody(request)
                return batchUpdateMembers(request, body: body)
            }
        }
        router.get("/v1/cloudimages/job/:job_id") { request, context in
            let jobID = context.parameters.get("job_id") ?? ""
            state.countPoll(jobID)
            return try await gate.serve(.showJobProgress, context: context) { intact in
                let body = try await Self.collectBody(request)
                return showJob(request, body: body, projectID: nil, jobID: jobID, progress: true, intact: intact)
            }
        }
        router.get("/v1/:project_id/jobs/:job_id") { request, context in
            let jobID = context.parameters.get("job_id") ?? ""
            state.countPoll(jobID)
            return try await gate.serve(.showJob, context: context) { intact in
                let body = try await Self.collectBody(request)
                return showJob(
                    request, body: body, projectID: context.parameters.get("project_id") ?? "", jobID: jobID,
                    progress: false, intact: intact)
            }
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
        case failure(SimulatorAnswer)
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

    private func batchUpdateMembers(_ request: Request, body: [UInt8]) -> SimulatorAnswer {
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
        let vaultID = object["vault_id"] as? String
        guard projectID == callerProjectID else {
            return SimulatorResponses.imsError(
                .forbidden, code: "IMG.0003", message: "The project_id does not match the caller's project.")
        }
        let job = state.createJob(projectID: projectID, images: images, memberStatus: status, vaultID: vaultID)
        return SimulatorResponses.json(.ok, ["job_id": job.id])
    }

    /// ShowJob or ShowJobProgress of `jobID`, with the job's faults.
    /// - Parameter intact: `false` when the answer's body will be spoilt by a call fault: then
    ///   the answer does not count as the caller having seen the job final.
    private func showJob(
        _ request: Request, body: [UInt8], projectID: String?, jobID: String, progress: Bool, intact: Bool
    ) -> SimulatorAnswer {
        let callerProjectID: String
        switch authenticate(request, body: body) {
        case .success(let projectID): callerProjectID = projectID
        case .failure(let answer): return answer
        }
        if let projectID, projectID != callerProjectID {
            return SimulatorResponses.imsError(
                .forbidden, code: "IMG.0003", message: "The project in the path does not match the caller's project.")
        }
        guard let served = state.servePoll(jobID, projectID: callerProjectID) else {
            return Self.jobNotFound()
        }
        if served.index < served.job.faults.notFoundPolls {
            state.faults.recordInjected("not_found")
            return Self.jobNotFound()
        }
        let document = JobDocument(job: served.job, phase: served.job.phase(at: .now), progress: progress, pollIndex: served.index)
        for name in document.injected { state.faults.recordInjected(name) }
        if intact, document.showsFinal { state.recordFinalSeen(jobID, at: Date()) }
        return SimulatorResponses.json(.ok, document.object)
    }

    private static func jobNotFound() -> SimulatorAnswer {
        SimulatorResponses.imsError(.notFound, code: "IMG.0404", message: "The job does not exist.")
    }
}
