import Foundation

/// Sends one unit of load: one request, or the upstream pair (PUT members, then GET the job).
struct LoadSender: Sendable {
    let client: any LoadClient
    let scenario: LoadCommand.Scenario
    let request: LoadRequest
    /// Upstream scenario: the PUT body of each batch.
    let batchBodies: [[UInt8]]
    let project: String

    private struct SubmitAnswer: Decodable {
        var job_id: String
    }

    /// Sends one unit and returns the last HTTP status (in the upstream scenario, the worst of
    /// the batches).
    /// - Throws: the client's transport error; a 200 submit answer without `job_id` throws
    ///   `DecodingError`.
    func sendOne() async throws -> Int {
        switch scenario {
        case .request:
            return try await client.send(request).status
        case .upstream where batchBodies.count == 1:
            return try await submitAndPoll(batchBodies[0])
        case .upstream:
            return try await withThrowingTaskGroup(of: Int.self) { group in
                for body in batchBodies { group.addTask { try await submitAndPoll(body) } }
                var worst = 0
                for try await status in group { worst = max(worst, status) }
                return worst
            }
        }
    }

    private func submitAndPoll(_ body: [UInt8]) async throws -> Int {
        var submit = request
        submit.method = "PUT"
        submit.url = request.url + "/v1/cloudimages/members"
        submit.body = body
        let answer = try await client.send(submit)
        guard answer.status == 200 else { return answer.status }
        let jobID = try JSONDecoder().decode(SubmitAnswer.self, from: Data(answer.body)).job_id
        let poll = LoadRequest(
            method: "GET", url: request.url + "/v1/\(project)/jobs/\(jobID)",
            headers: request.headers.filter { $0.name.lowercased() != "content-type" }, body: [])
        return try await client.send(poll).status
    }
}
