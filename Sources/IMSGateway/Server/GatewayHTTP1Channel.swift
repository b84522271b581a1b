import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1

/// The gateway's HTTP/1.1 server channel: Hummingbird's `HTTP1Channel` with
/// ``HTTPFramingHandler`` placed right after NIO's HTTP/1 decoder, and a responder that
/// answers `Expect: 100-continue` with `100 Continue` once the request passed the framing
/// checks (RFC 9110 section 10.1.1).
///
/// `HTTP1Channel.Configuration.additionalChannelHandlers` cannot be used for the framing
/// checks: Hummingbird adds them after its codec to HTTP types, which has already dropped the
/// request's HTTP version and its first `Host` field.
struct GatewayHTTP1Channel: ServerChildChannel {
    typealias Value = HTTP1Channel.Value

    private let http1: HTTP1Channel
    private let metrics: GatewayMetrics
    private let logger: Logger

    /// The server builder for `Application(server:)`.
    /// - Parameters:
    ///   - idleTimeout: how long a connection may send nothing before it is closed (never one
    ///     being answered), as Hummingbird's `HTTP1Channel.Configuration.idleTimeout`.
    ///   - metrics: where requests refused for their framing are counted.
    ///   - logger: where they are logged.
    static func builder(idleTimeout: TimeAmount, metrics: GatewayMetrics, logger: Logger) -> HTTPServerBuilder {
        HTTPServerBuilder { responder in
            GatewayHTTP1Channel(
                http1: HTTP1Channel(
                    responder: Self.answeringContinue(responder),
                    configuration: .init(idleTimeout: idleTimeout)),
                metrics: metrics, logger: logger)
        }
    }

    /// What a connection reads into: NIO's adaptive allocator, as by default, but starting at
    /// 1 KB instead of 2 KB. A waiting caller's connection keeps the buffer of its last read for
    /// the whole wait, and a request to the gateway is a few hundred bytes; larger requests
    /// make the buffer grow, as NIO's default does, up to 64 KB (BENCHMARKS.md, "Memory per
    /// waiting caller").
    static let receiveAllocator = AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 1024, maximum: 65536)

    /// Sets up Hummingbird's HTTP/1 pipeline, then puts ``HTTPFramingHandler`` right after
    /// the decoder.
    /// - Returns: the channel to serve; the future fails when Hummingbird's set-up fails or
    ///   its pipeline has no HTTP/1 request decoder.
    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        let metrics = metrics
        let framingLogger = self.logger
        return http1.setup(channel: channel, logger: logger).flatMapThrowing { value in
            try channel.syncOptions?.setOption(ChannelOptions.recvAllocator, value: Self.receiveAllocator)
            let operations = channel.pipeline.syncOperations
            let decoder = try operations.handler(type: ByteToMessageHandler<HTTPRequestDecoder>.self)
            try operations.addHandler(HTTPFramingHandler(metrics: metrics, logger: framingLogger), position: .after(decoder))
            return value
        }
    }

    /// Serves the connection as Hummingbird's `HTTP1Channel` does.
    func handle(value: Value, logger: Logger) async {
        await http1.handle(value: value, logger: logger)
    }

    /// `responder`, after a `100 Continue` for a request that expects one and has a body.
    static func answeringContinue(
        _ responder: @escaping HTTPChannelHandler.Responder
    ) -> HTTPChannelHandler.Responder {
        { request, writer, channel in
            if expectsContinue(request.headers) {
                try await writer.writeInformationalHead(HTTPResponse(status: .continue))
            }
            try await responder(request, writer, channel)
        }
    }

    /// Whether a request with `headers` waits for `100 Continue`: it sends
    /// `Expect: 100-continue` (the framing handler refused any other expectation and dropped
    /// it from HTTP/1.0) and a body (`Transfer-Encoding` or a `Content-Length` above 0).
    static func expectsContinue(_ headers: HTTPFields) -> Bool {
        guard let expect = headers[.expect], expect.lowercased().contains("100-continue") else { return false }
        if headers[.transferEncoding] != nil { return true }
        return headers[.contentLength].flatMap { Int($0) }.map { $0 > 0 } ?? false
    }
}
