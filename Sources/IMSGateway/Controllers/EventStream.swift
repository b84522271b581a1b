import Foundation
import GatewayStore
import HTTPTypes
import Hummingbird
import IMSClient
import NIOCore

/// One request's progress events as a Server-Sent Events stream (docs/ARCHITECTURE.md,
/// "Progress events"; the WHATWG HTML standard, "Server-sent events"): each stored event as
/// `id: N`, `event: KIND`, `data: JSON` and a blank line, read from the store (so any replica
/// serves them, also for a request of an earlier process) after the last id sent, woken by the
/// request's writes (``RequestWatchers``). A comment line every `keepAlive` keeps proxies from
/// cutting an idle stream. The stream ends after `result`, at the caller's deadline, or at once
/// when the gateway starts draining (with a `retry:` hint).
struct EventStream: Sendable {
    /// How a stream ended.
    enum End: Equatable {
        /// The `result` event was sent.
        case result
        /// The caller's deadline passed first.
        case deadline
        /// The gateway started draining: `retry:` was sent.
        case drained
        /// The connection is gone (a write failed).
        case closed
        /// The store could not be read for ``maxStoreFailures`` tries in a row.
        case storeFailed
    }

    let store: any GatewayStore
    let watchers: RequestWatchers
    let drain: DrainController
    /// Seconds between two comment lines of an idle stream.
    let keepAlive: Duration
    /// Whether the store's writes of other replicas wake this replica (a shared store's
    /// listener is connected); without a shared store every write is local and wakes it.
    let notified: @Sendable () -> Bool

    /// Most events read from the store at once.
    static let batchSize = 200
    /// Store reads that may fail in a row before the stream ends.
    static let maxStoreFailures = 5
    /// The reconnection delay a draining gateway asks for, in milliseconds.
    static let retryAfterDrainMs = 2000

    /// Writes the events of `requestID` with an id above `lastEventID` to `writer` until the
    /// `result` event, `deadline` (nil: none), a drain, or a failed write.
    /// - Returns: how it ended and the id of the last event written.
    func run(
        requestID: String, after lastEventID: Int64, until deadline: ContinuousClock.Instant?,
        writer: inout any ResponseBodyWriter
    ) async -> (end: End, lastID: Int64) {
        watchers.begin(requestID)
        defer { watchers.end(requestID) }
        var last = lastEventID
        var lastWrite = ContinuousClock.now
        var failures = 0
        while true {
            if drain.isDraining {
                _ = await Self.write("retry: \(Self.retryAfterDrainMs)\n\n", to: &writer)
                return (.drained, last)
            }
            // Read before the store: a write between the read and the wait is not missed.
            let seen = watchers.generation(requestID)
            let events: [RequestEvent]
            do throws(StoreError) {
                events = try await store.events(requestID: requestID, afterID: last, limit: Self.batchSize)
                failures = 0
            } catch {
                failures += 1
                if failures >= Self.maxStoreFailures { return (.storeFailed, last) }
                try? await Task.sleep(for: .seconds(1))
                continue
            }
            for event in events {
                guard await Self.write(Self.frame(event), to: &writer) else { return (.closed, last) }
                last = event.id
                lastWrite = .now
                if event.kind == "result" { return (.result, last) }
            }
            if events.count == Self.batchSize { continue }
            let now = ContinuousClock.now
            if let deadline, now >= deadline { return (.deadline, last) }
            if now >= lastWrite.advanced(by: keepAlive) {
                guard await Self.write(": keep-alive\n\n", to: &writer) else { return (.closed, last) }
                lastWrite = now
            }
            var until = lastWrite.advanced(by: keepAlive)
            if let deadline { until = min(until, deadline) }
            // Without notifications from the other replicas, read every second.
            if !notified() { until = min(until, now.advanced(by: .seconds(1))) }
            await watchers.wait(for: requestID, after: seen, timeout: now.duration(to: until))
        }
    }

    /// One event as its lines: `id`, `event`, `data` (the stored JSON, one line) and a blank line.
    static func frame(_ event: RequestEvent) -> String {
        "id: \(event.id)\nevent: \(event.kind)\ndata: \(event.data)\n\n"
    }

    /// An event without an id (not stored: `timeout`).
    static func frame(kind: String, data: String) -> String {
        "event: \(kind)\ndata: \(data)\n\n"
    }

    /// Writes `text`; false when the connection is gone.
    static func write(_ text: String, to writer: inout any ResponseBodyWriter) async -> Bool {
        do {
            try await writer.write(ByteBuffer(string: text))
            return true
        } catch {
            return false
        }
    }

    /// The headers of every stream: `text/event-stream`, never cached or buffered by a proxy.
    static var headers: HTTPFields {
        var fields = HTTPFields()
        fields[.contentType] = "text/event-stream"
        fields[.cacheControl] = "no-store"
        fields[HTTPField.Name("X-Accel-Buffering")!] = "no"
        return fields
    }

    /// Whether an `Accept` header asks for `text/event-stream` (parameters and letter case
    /// ignored).
    static func isAsked(_ accept: String?) -> Bool {
        guard let accept else { return false }
        return accept.split(separator: ",").contains { range in
            range.split(separator: ";").first.map { $0.trimmingWhitespace().lowercased() } == "text/event-stream"
        }
    }
}
