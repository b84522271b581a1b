import Foundation
import Logging
import NIOCore
import NIOHTTP1

/// The channel handler right after NIO's HTTP/1 decoder, where a request still has its HTTP
/// version and every `Host` field (the codec to HTTP types after it drops both): it refuses
/// requests whose framing the gateway does not accept (``HTTPFramingState/check(_:)``) and
/// requests the decoder cannot parse, with RFC 9457 problem details, `Connection: close`, and a
/// close; and it closes the connection after the answer whenever RFC 9112 says so. The
/// decisions are ``HTTPFramingState``'s; this type only does the I/O.
final class HTTPFramingHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    /// How long a connection that answered its last request stays half open, reading and
    /// dropping what the client still sends, before it is closed: closing at once with unread
    /// input would reset the connection and could destroy the answer before the client reads
    /// it (RFC 9112 section 9.6).
    static let lingerTime = TimeAmount.seconds(2)

    private var state = HTTPFramingState()
    private let metrics: GatewayMetrics
    private let logger: Logger
    /// The caller's `X-Request-Id` of the last head read, for the id of a rejection.
    private var lastRequestIDHeader: String?
    /// When the last head (or the error that stood for it) was read.
    private var lastStarted = ContinuousClock.now

    /// Creates the handler of one connection.
    /// - Parameters:
    ///   - metrics: where its rejections are counted (route `unknown`).
    ///   - logger: where its rejections are logged (`request refused`).
    init(metrics: GatewayMetrics, logger: Logger) {
        self.metrics = metrics
        self.logger = logger
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            lastStarted = .now
            lastRequestIDHeader = head.headers.first(name: "X-Request-Id")
            switch state.receivedHead(head) {
            case .forward(let forwarded):
                context.fireChannelRead(wrapInboundOut(.head(forwarded)))
            case .discard:
                break
            case .reject(let rejection):
                reject(rejection, context: context)
            }
        case .body, .end:
            let isEnd: Bool
            if case .end = unwrapInboundIn(data) { isEnd = true } else { isEnd = false }
            switch state.receivedPart(isEnd: isEnd) {
            case .forward: context.fireChannelRead(data)
            case .discard: break
            }
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard let parserError = error as? HTTPParserError else {
            context.fireErrorCaught(error)
            return
        }
        switch state.receivedError(parserError) {
        case .forward:
            context.fireErrorCaught(error)
        case .reject(let rejection):
            lastStarted = .now
            lastRequestIDHeader = nil
            reject(rejection, context: context)
        case .close:
            Self.finish(context.channel)
        case .ignore:
            break
        }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head(let head):
            switch state.writingHead(head) {
            case .write(let written):
                context.write(wrapOutboundOut(.head(written)), promise: promise)
            case .drop:
                promise?.succeed(())
            }
        case .body:
            context.write(data, promise: promise)
        case .end:
            switch state.writingEnd() {
            case .write:
                context.write(data, promise: promise)
            case .writeThenClose:
                context.writeAndFlush(data, promise: promise)
                Self.finish(context.channel)
            case .writeThenReject(let rejection):
                context.write(data, promise: promise)
                reject(rejection, context: context)
            }
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        // A client that closed its side after the last answer: nothing more to wait for.
        if case .inputClosed = event as? ChannelEvent, state.isClosed {
            context.close(promise: nil)
        }
        context.fireUserInboundEventTriggered(event)
    }

    /// Writes `rejection` as problem details, counts and logs it, and closes.
    private func reject(_ rejection: HTTPFramingRejection, context: ChannelHandlerContext) {
        let requestID = RequestIdentifier.correlation(lastRequestIDHeader) ?? RequestIdentifier.make()
        metrics.request(
            route: GatewayRoutes.unknownRoute, status: rejection.status, duration: lastStarted.duration(to: .now))
        logger.info(
            "request refused",
            metadata: [
                "request_id": "\(requestID)", "route": "\(GatewayRoutes.unknownRoute)", "status": "\(rejection.status)",
                "detail": "\(rejection.detail)",
            ])
        let (head, body) = rejection.response(requestID: requestID)
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        Self.finish(context.channel)
    }

    /// Closes `channel` once what was written is sent: its output at once (the client sees
    /// the end of the answer), all of it when the client closes its side or after
    /// ``lingerTime``.
    private static func finish(_ channel: any Channel) {
        channel.close(mode: .output).whenFailure { _ in channel.close(promise: nil) }
        channel.eventLoop.scheduleTask(in: lingerTime) { channel.close(promise: nil) }
    }
}
