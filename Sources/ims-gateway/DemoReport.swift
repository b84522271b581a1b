import Foundation
import IMSGateway

/// The demo's human-readable output.
enum DemoReport {
    /// A fixed-width table of the batches.
    static func table(status: Int, result: MemberStatusResult) -> String {
        var lines = [
            "HTTP \(status)  outcome: \(result.outcome.rawValue)  request_id: \(result.requestID)  elapsed: \(result.elapsedMs) ms",
            "",
        ]
        let header = ["batch", "job_id", "job_status", "state", "images", "fail_reason"]
        var rows = [header]
        for batch in result.batches {
            rows.append([
                "\(batch.index)", batch.jobID ?? "-", batch.jobStatus ?? "-", batch.state.rawValue,
                batch.images.map { String($0.prefix(8)) }.joined(separator: ","), batch.failReason ?? "",
            ])
        }
        let widths = header.indices.map { column in rows.map { $0[column].count }.max() ?? 0 }
        for row in rows {
            lines.append(
                row.enumerated().map { $0.element.padding(toLength: widths[$0.offset], withPad: " ", startingAt: 0) }
                    .joined(separator: "  ").trimmingCharacters(in: .whitespaces))
        }
        return lines.joined(separator: "\n")
    }

    /// The answer re-indented for reading.
    static func prettyJSON(_ body: [UInt8]) -> String {
        guard let object = try? JSONSerialization.jsonObject(with: Data(body)),
            let data = try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        else { return String(decoding: body, as: UTF8.self) }
        return String(decoding: data, as: UTF8.self)
    }
}
