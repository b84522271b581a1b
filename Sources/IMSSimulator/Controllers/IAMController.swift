import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// Simulated IAM: `POST /v3/auth/tokens` with password credentials scoped to a project
/// (doc iam_30_0001). The token is the `X-Subject-Token` response header.
struct IAMController {
    let state: SimulatorState
    private static let subjectTokenHeader = HTTPField.Name("X-Subject-Token")!

    func addRoutes(to router: Router<SimulatorRequestContext>) {
        let gate = FaultGate(state: state)
        router.post("/v3/auth/tokens") { request, context in
            try await gate.serve(.createToken, context: context) { _ in try await createToken(request) }
        }
    }

    private func createToken(_ request: Request) async throws -> SimulatorAnswer {
        let body = try await request.body.collect(upTo: 64 * 1024)
        guard let object = try? JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [String: Any],
            let auth = object["auth"] as? [String: Any],
            let identity = auth["identity"] as? [String: Any],
            let methods = identity["methods"] as? [String], methods.contains("password"),
            let user = (identity["password"] as? [String: Any])?["user"] as? [String: Any],
            let name = user["name"] as? String, let password = user["password"] as? String,
            let domain = (user["domain"] as? [String: Any])?["name"] as? String
        else {
            return iamError(.badRequest, "The request body is invalid.")
        }
        guard let project = (auth["scope"] as? [String: Any])?["project"] as? [String: Any],
            let projectID = (project["id"] as? String) ?? (project["name"] as? String), !projectID.isEmpty
        else {
            return iamError(.badRequest, "A project scope is required.")
        }
        guard state.configuration.users.contains(where: { $0.domainName == domain && $0.name == name && $0.password == password })
        else {
            state.countAuthFailure()
            return iamError(.unauthorized, "The username or password is wrong.")
        }
        let token = state.issueToken(projectID: projectID)
        let now = Date()
        let document: [String: Any] = [
            "token": [
                "expires_at": SimulatorResponses.iamTimestamp(token.expiresAt),
                "issued_at": SimulatorResponses.iamTimestamp(now),
                "methods": ["password"],
                "project": ["id": projectID, "name": "simulated", "domain": ["name": domain]],
                "user": ["name": name, "domain": ["name": domain], "id": "sim-user-0001"],
            ]
        ]
        return SimulatorResponses.json(.created, document, headers: [Self.subjectTokenHeader: token.value])
    }

    /// IAM's error shape: `{"error": {"code": 401, "message": ..., "title": ...}}`.
    private func iamError(_ status: HTTPResponse.Status, _ message: String) -> SimulatorAnswer {
        SimulatorResponses.json(
            status, ["error": ["code": status.code, "message": message, "title": status.reasonPhrase]])
    }
}
