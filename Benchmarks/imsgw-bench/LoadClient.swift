import AsyncHTTPClient
import CurlHTTP
import NIOCore
import NIOHTTP1

/// One request of the load: what every client under test sends the same way.
struct LoadRequest: Sendable {
    /// HTTP method, upper case.
    var method: String
    /// Absolute URL.
    var url: String
    /// Header fields, in order.
    var headers: [(name: String, value: String)]
    /// Body bytes; empty for none.
    var body: [UInt8]
}

/// What the load generator needs of an HTTP client: send one request, get status and body.
protocol LoadClient: Sendable {
    /// Sends `request` and returns the status and the whole body.
    /// - Throws: the client's transport error (connection refused, timeout, ...).
    func send(_ request: LoadRequest) async throws -> (status: Int, body: [UInt8])
    /// Releases connections and threads.
    func shutdown() async
}

/// The product's engine: ``CurlHTTPClient`` with one connection per concurrent sender.
struct CurlLoadClient: LoadClient {
    let client: CurlHTTPClient
    let timeoutMilliseconds: Int

    /// - Parameters:
    ///   - connections: most connections open at once (`CURLMOPT_MAX_TOTAL_CONNECTIONS`).
    ///   - timeoutMilliseconds: limit of each request, in ms.
    init(connections: Int, timeoutMilliseconds: Int) throws {
        client = try CurlHTTPClient(configuration: .init(maxConnections: connections))
        self.timeoutMilliseconds = timeoutMilliseconds
    }

    func send(_ request: LoadRequest) async throws -> (status: Int, body: [UInt8]) {
        let response = try await client.execute(CurlHTTPRequest(
            method: request.method, url: request.url, headers: request.headers, body: request.body,
            timeoutMilliseconds: timeoutMilliseconds, connectTimeoutMilliseconds: timeoutMilliseconds))
        return (response.status, response.body)
    }

    func shutdown() async {
        client.shutdown()
    }
}

/// The reference: AsyncHTTPClient on SwiftNIO's singleton event loop group (one loop per core),
/// its pool allowed as many connections per host as there are concurrent senders.
struct AsyncHTTPLoadClient: LoadClient {
    let client: HTTPClient
    let timeout: TimeAmount

    /// - Parameters:
    ///   - connections: `concurrentHTTP1ConnectionsPerHostSoftLimit` of the pool.
    ///   - timeoutMilliseconds: limit of each request, in ms.
    init(connections: Int, timeoutMilliseconds: Int) {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool = .init(
            idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: connections)
        configuration.redirectConfiguration = .disallow
        configuration.timeout.connect = .milliseconds(Int64(timeoutMilliseconds))
        client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        timeout = .milliseconds(Int64(timeoutMilliseconds))
    }

    func send(_ request: LoadRequest) async throws -> (status: Int, body: [UInt8]) {
        var outbound = HTTPClientRequest(url: request.url)
        outbound.method = .init(rawValue: request.method)
        for header in request.headers { outbound.headers.add(name: header.name, value: header.value) }
        if !request.body.isEmpty { outbound.body = .bytes(ByteBuffer(bytes: request.body)) }
        let response = try await client.execute(outbound, timeout: timeout)
        let body = try await response.body.collect(upTo: 16 << 20)
        return (Int(response.status.code), Array(buffer: body))
    }

    func shutdown() async {
        try? await client.shutdown()
    }
}
