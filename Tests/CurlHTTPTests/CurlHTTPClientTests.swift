import CurlHTTP
import Testing

/// ``CurlHTTPClient`` against a real Hummingbird server on loopback (see `TestHTTPServer.swift`).
///
/// Real-time bounds are deliberately loose: they tell "returned at once" from "waited for the
/// server or the request's own timeout", not milliseconds.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct CurlHTTPClientTests {
    // MARK: methods, headers, bodies

    @Test(arguments: ["GET", "PUT", "POST"])
    func requestWithBodyReachesTheServerWhole(method: String) async throws {
        try await withTestHTTPServer { server in
            let client = try CurlHTTPClient()
            defer { client.shutdown() }
            // Non-ASCII, a NUL and a newline: the body must arrive byte for byte.
            let body = Array(#"{"images":["d164b5df-1bc3-4c3f-893e-3e471fd16e64"],"m":""#.utf8)
                + Array(method.utf8) + [0x22, 0x7D, 0x00, 0xFF, 0x0A] + Array("é".utf8)
            let response = try await client.execute(CurlHTTPRequest(
                method: method, url: server.url("/echo"),
                headers: [(name: testHeaderName, value: "value for \(method)")],
                body: body))

            #expect(response.status == 200)
            #expect(response.header(echoedMethodName) == method)
            #expect(response.header(echoedHeaderName) == "value for \(method)")
            #expect(response.body == body)
        }
    }

    @Test func deleteWithoutBody() async throws {
        try await withTestHTTPServer { server in
            let client = try CurlHTTPClient()
            defer { client.shutdown() }
            let response = try await client.execute(CurlHTTPRequest(
                method: "DELETE", url: server.url("/echo"),
                headers: [(name: testHeaderName, value: "gone")]))

            #expect(response.status == 200)
            #expect(response.header(echoedMethodName) == "DELETE")
            #expect(response.header(echoedHeaderName) == "gone")
            #expect(response.body.isEmpty)
        }
    }

    /// IAM tokens arrive in a response header (`X-Subject-Token`) and are well over 16 KB.
    @Test(arguments: [16_384, 40_000])
    func largeResponseHeaderComesThroughWhole(bytes: Int) async throws {
        try await withTestHTTPServer { server in
            let client = try CurlHTTPClient()
            defer { client.shutdown() }
            let response = try await client.execute(CurlHTTPRequest(
                method: "GET", url: server.url("/large-header/\(bytes)")))

            let value = try #require(response.header(largeHeaderName))
            #expect(response.status == 200)
            #expect(value.utf8.count == bytes)
            // Compared as a Bool so that a failure does not print two 16 KB strings.
            let whole = value == largeHeaderValue(count: bytes)
            #expect(whole, "the header value differs from what the server sent")
        }
    }

    // MARK: concurrency and connections

    @Test func fiftyConcurrentRequestsEachGetTheirOwnBody() async throws {
        try await withTestHTTPServer { server in
            let client = try CurlHTTPClient()
            defer { client.shutdown() }
            let bodies = try await withThrowingTaskGroup(of: (Int, String).self) { group in
                for index in 0..<50 {
                    group.addTask {
                        let response = try await client.execute(CurlHTTPRequest(
                            method: "GET", url: server.url("/item/\(index)")))
                        #expect(response.status == 200)
                        return (index, String(decoding: response.body, as: UTF8.self))
                    }
                }
                var bodies: [Int: String] = [:]
                for try await (index, body) in group { bodies[index] = body }
                return bodies
            }

            #expect(bodies.count == 50)
            for index in 0..<50 {
                #expect(bodies[index] == "item-\(index)")
            }
            // Each handler waits 100 ms: one at a time would mean the client serialises.
            #expect(server.probe.peakRunning > 1)
        }
    }

    @Test func transfersBeyondTheConnectionLimitQueueAndAllFinish() async throws {
        try await withTestHTTPServer { server in
            let client = try CurlHTTPClient(configuration: .init(maxConnections: 4))
            defer { client.shutdown() }
            let started = ContinuousClock.now
            let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<40 {
                    group.addTask {
                        try await client.execute(CurlHTTPRequest(method: "GET", url: server.url("/sleep/200"), timeoutMilliseconds: 20_000)).status
                    }
                }
                return try await group.reduce(into: [Int]()) { $0.append($1) }
            }
            let elapsed = started.duration(to: .now)
            #expect(statuses == Array(repeating: 200, count: 40))
            // 40 requests of 200 ms over 4 connections: about 2 s; at most 4 at once.
            #expect(server.probe.peakRunning <= 4)
            #expect(elapsed < .seconds(15))
        }
    }

    @Test func sequentialRequestsReuseOneConnection() async throws {
        try await withTestHTTPServer { server in
            let client = try CurlHTTPClient()
            defer { client.shutdown() }
            var opened = 0
            var clientPorts: Set<String> = []
            for _ in 0..<20 {
                let response = try await client.execute(CurlHTTPRequest(
                    method: "GET", url: server.url("/connection")))
                #expect(response.status == 200)
                opened += response.connectionsOpened
                clientPorts.insert(String(decoding: response.body, as: UTF8.self))
            }

            #expect(opened == 1)
            // The server's view: every request came from the same TCP source port.
            #expect(clientPorts.count == 1)
        }
    }

    @Test func redirectIsReturnedNotFollowed() async throws {
        try await withTestHTTPServer { server in
            let client = try CurlHTTPClient()
            defer { client.shutdown() }
            let response = try await client.execute(CurlHTTPRequest(
                method: "GET", url: server.url("/redirect")))

            #expect(response.status == 302)
            #expect(response.header("location") == "/echo")
            #expect(response.body == Array("moved".utf8))
            #expect(response.header(echoedMethodName) == nil)
        }
    }

    // MARK: failures

    @Test func totalTimeoutThrowsTimedOut() async throws {
        try await withTestHTTPServer { server in
            let client = try CurlHTTPClient()
            defer { client.shutdown() }
            let clock = ContinuousClock()
            let start = clock.now
            let error = await #expect(throws: CurlHTTPError.self) {
                try await client.execute(CurlHTTPRequest(
                    method: "GET", url: server.url("/sleep/5000"), timeoutMilliseconds: 300))
            }
            let elapsed = clock.now - start

            #expect(error?.code == .timedOut)
            #expect(error?.mayHaveReachedServer == true)
            #expect(elapsed >= .milliseconds(250))
            #expect(elapsed < .seconds(3))
        }
    }

    @Test func cancellingTheTaskEndsTheRequestAtOnce() async throws {
        try await withTestHTTPServer { server in
            let client = try CurlHTTPClient()
            defer { client.shutdown() }
            let request = CurlHTTPRequest(
                method: "GET", url: server.url("/sleep/10000"), timeoutMilliseconds: 30_000)
            let task = Task { () async -> Result<CurlHTTPResponse, CurlHTTPError> in
                do throws(CurlHTTPError) {
                    return .success(try await client.execute(request))
                } catch {
                    return .failure(error)
                }
            }
            // Cancel only once the server holds the request, so the transfer is surely in flight.
            var arrivals = server.probe.arrivals.makeAsyncIterator()
            #expect(await arrivals.next() == "/sleep/10000")
            let clock = ContinuousClock()
            let cancelledAt = clock.now
            task.cancel()
            let result = await task.value
            let elapsed = clock.now - cancelledAt

            guard case .failure(let error) = result else {
                Issue.record("expected a cancellation error, got \(result)")
                return
            }
            #expect(error.code == .cancelled)
            #expect(elapsed < .seconds(2))
        }
    }

    @Test func alreadyCancelledTaskThrowsCancelled() async throws {
        try await withTestHTTPServer { server in
            let client = try CurlHTTPClient()
            defer { client.shutdown() }
            let request = CurlHTTPRequest(method: "GET", url: server.url("/sleep/10000"))
            let task = Task { () async -> Result<CurlHTTPResponse, CurlHTTPError> in
                withUnsafeCurrentTask { $0?.cancel() }
                do throws(CurlHTTPError) {
                    return .success(try await client.execute(request))
                } catch {
                    return .failure(error)
                }
            }
            let clock = ContinuousClock()
            let start = clock.now
            let result = await task.value

            guard case .failure(let error) = result else {
                Issue.record("expected a cancellation error, got \(result)")
                return
            }
            #expect(error.code == .cancelled)
            #expect(clock.now - start < .seconds(2))
        }
    }

    @Test func connectionRefusedThrowsConnectFailed() async throws {
        // A port that was just listened on and is closed again: nothing answers there.
        let closedPort = try await withTestHTTPServer { server in server.port }
        let client = try CurlHTTPClient()
        defer { client.shutdown() }
        let error = await #expect(throws: CurlHTTPError.self) {
            try await client.execute(CurlHTTPRequest(method: "GET", url: "http://127.0.0.1:\(closedPort)/echo"))
        }

        #expect(error?.code == .connectFailed)
        #expect(error?.mayHaveReachedServer == false)
        #expect(error?.curlCode == 7)  // CURLE_COULDNT_CONNECT
    }

    /// `/bytes` sends a `Content-Length`, `/stream` does not: libcurl refuses the first before
    /// reading the body, the second only in the write callback.
    @Test(arguments: ["/bytes/102400", "/stream/102400"])
    func responseBodyOverTheCapThrowsTooLarge(path: String) async throws {
        try await withTestHTTPServer { server in
            let client = try CurlHTTPClient()
            defer { client.shutdown() }
            let error = await #expect(throws: CurlHTTPError.self) {
                try await client.execute(CurlHTTPRequest(
                    method: "GET", url: server.url(path), maxResponseBodyBytes: 10_000))
            }

            #expect(error?.code == .responseBodyTooLarge)
            #expect(error?.mayHaveReachedServer == true)
        }
    }

    @Test(arguments: ["/bytes/10000", "/stream/10000"])
    func responseBodyAtTheCapIsAccepted(path: String) async throws {
        try await withTestHTTPServer { server in
            let client = try CurlHTTPClient()
            defer { client.shutdown() }
            let response = try await client.execute(CurlHTTPRequest(
                method: "GET", url: server.url(path), maxResponseBodyBytes: 10_000))

            #expect(response.status == 200)
            #expect(response.body.count == 10_000)
        }
    }

    // MARK: shutdown

    @Test func executeAfterShutdownThrowsShutdown() async throws {
        try await withTestHTTPServer { server in
            let client = try CurlHTTPClient()
            // The same request works before the shutdown.
            let request = CurlHTTPRequest(method: "GET", url: server.url("/echo"))
            #expect(try await client.execute(request).status == 200)
            client.shutdown()
            let error = await #expect(throws: CurlHTTPError.self) {
                try await client.execute(request)
            }

            #expect(error?.code == .shutdown)
            client.shutdown()  // a second call is harmless
        }
    }

    @Test func shutdownFailsATransferInFlight() async throws {
        try await withTestHTTPServer { server in
            let client = try CurlHTTPClient()
            let request = CurlHTTPRequest(method: "GET", url: server.url("/sleep/10000"))
            let task = Task { () async -> Result<CurlHTTPResponse, CurlHTTPError> in
                do throws(CurlHTTPError) {
                    return .success(try await client.execute(request))
                } catch {
                    return .failure(error)
                }
            }
            var arrivals = server.probe.arrivals.makeAsyncIterator()
            #expect(await arrivals.next() == "/sleep/10000")
            let clock = ContinuousClock()
            let start = clock.now
            client.shutdown()
            let result = await task.value

            guard case .failure(let error) = result else {
                Issue.record("expected a shutdown error, got \(result)")
                return
            }
            #expect(error.code == .shutdown)
            #expect(clock.now - start < .seconds(2))
        }
    }
}
