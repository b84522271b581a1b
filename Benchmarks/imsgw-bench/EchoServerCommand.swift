import ArgumentParser
import Hummingbird
import Logging
import NIOCore
import Synchronization

/// `imsgw-bench echo-server`: the loopback server of the engine comparison. `GET /object`
/// answers a 1 KB body, `PUT /object` reads the request body and answers `{"bytes":N}`.
/// `GET /_connections` answers `{"connections":N}`, the TCP connections that have sent a
/// request since the start or the last `DELETE /_connections`: counted here, at the server, it
/// measures every client the same way.
struct EchoServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "echo-server", abstract: "Serve the engine benchmark's loopback endpoints.")

    @Option(help: "TCP port on 127.0.0.1.")
    var port: Int = 19090
    @Option(help: "Bytes of the GET /object answer.")
    var objectBytes: Int = 1024

    func run() async throws {
        let connections = ConnectionLog()
        let object = ByteBuffer(repeating: UInt8(ascii: "x"), count: objectBytes)
        let router = Router(context: EchoContext.self)
        router.get("object") { _, context -> Response in
            connections.saw(context.remoteAddress)
            return Response(status: .ok, headers: [.contentType: "application/octet-stream"], body: .init(byteBuffer: object))
        }
        router.put("object") { request, context -> Response in
            connections.saw(context.remoteAddress)
            let body = try await request.body.collect(upTo: 1 << 20)
            var answer = ByteBuffer()
            answer.writeString("{\"bytes\":\(body.readableBytes)}")
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: answer))
        }
        router.get("_connections") { _, _ -> Response in
            var answer = ByteBuffer()
            answer.writeString("{\"connections\":\(connections.count)}")
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: answer))
        }
        router.delete("_connections") { _, _ -> HTTPResponse.Status in
            connections.reset()
            return .noContent
        }
        var logger = Logger(label: "echo-server")
        logger.logLevel = .warning
        let app = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: port), serverName: nil),
            logger: logger)
        try await app.runService()
    }
}

/// A request context that keeps the peer's address, to count connections.
struct EchoContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    let remoteAddress: String

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress?.description ?? "?"
    }
}

/// The distinct peer addresses (IP and port) that sent requests.
final class ConnectionLog: Sendable {
    private let peers = Mutex(Set<String>())

    func saw(_ peer: String) { peers.withLock { _ = $0.insert(peer) } }
    var count: Int { peers.withLock { $0.count } }
    func reset() { peers.withLock { $0.removeAll() } }
}
