import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// Where every IAM and IMS call passes before its handler: it counts the call, asks the
/// ``FaultInjector`` what to do, and then delays, closes the connection, answers an error or a
/// 429, or runs the handler (and maybe spoils its JSON body).
struct FaultGate: Sendable {
    let state: SimulatorState

    /// Serves one call of `operation`.
    /// - Parameters:
    ///   - operation: which call it is.
    ///   - context: the request's context (its channel is closed by a `close` fault).
    ///   - handle: the real handler; its argument is `false` when its body will be spoilt, so
    ///     that it does not record the answer as seen by the caller.
    /// - Throws: what `handle` throws, or `CancellationError` when a delay is cancelled.
    func serve(
        _ operation: SimulatedOperation, context: SimulatorRequestContext,
        _ handle: (_ intact: Bool) async throws -> SimulatorAnswer
    ) async throws -> SimulatorAnswer {
        state.count(operation.rawValue)
        let decision = state.faults.decide(
            operation: operation.rawValue, countsTowardQuota: operation.countsTowardQuota, now: .now)
        if let delay = decision.delay {
            try await Task.sleep(for: delay)
        }
        switch decision.action {
        case .proceed:
            return try await handle(true)
        case .malform:
            return try await handle(false).malformed()
        case .close(let reset):
            await Self.close(context.channel, reset: reset)
            // Never sent: the channel is closed, so Hummingbird's write fails quietly.
            return SimulatorResponses.imsError(.internalServerError, code: "IMG.0500", message: "connection closed")
        case .httpError(let status, let code, let message):
            return SimulatorResponses.imsError(HTTPResponse.Status(code: status), code: code, message: message)
        case .throttle(let retryAfter):
            var headers = HTTPFields()
            switch retryAfter {
            case .none: break
            case .seconds(let seconds): headers[.retryAfter] = String(seconds)
            case .httpDate(let seconds):
                let date = Date(timeIntervalSince1970: (Date().timeIntervalSince1970 + Double(seconds)).rounded(.up))
                headers[.retryAfter] = SimulatorResponses.httpDate(date)
            case .garbage: headers[.retryAfter] = "soon, maybe"
            }
            return SimulatorResponses.throttled(limit: 200, window: "1 minute", headers: headers)
        case .quotaExceeded(let quota):
            return SimulatorResponses.throttled(limit: quota.calls ?? 0, window: quota.windowText)
        }
    }

    /// Closes the connection; with `reset`, SO_LINGER 0 first so that the peer gets a TCP RST
    /// instead of a FIN.
    private static func close(_ channel: any Channel, reset: Bool) async {
        if reset, let provider = channel as? any SocketOptionProvider {
            try? await provider.unsafeSetSocketOption(
                level: NIOBSDSocket.OptionLevel.socket, name: NIOBSDSocket.Option.so_linger, value: Linger(onOff: 1, seconds: 0)
            ).get()
        }
        try? await channel.close()
    }
}

/// C's `struct linger` (two `int`s, on Linux and Darwin alike), spelt out because NIO's own
/// `setSoLinger` needs the C type from a module this target does not import.
private struct Linger: Sendable {
    var onOff: Int32
    var seconds: Int32
}
