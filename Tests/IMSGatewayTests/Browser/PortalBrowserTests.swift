import CurlHTTP
import Foundation
import IMSGateway
import Testing

/// The example portal (examples/portal/) in a real headless Chromium (docs/ARCHITECTURE.md,
/// "Portals"): the page, served by its example backend on a loopback port of its own (another
/// origin than the gateway's), gets a browser token from that backend, posts an accept with
/// `Accept: text/event-stream` through `fetch` streaming, and shows each batch live; the DOM is
/// read through WebDriver. Built binaries: the simulator and `serve` as child processes.
@Suite(
    "portal page in a real browser", .serialized,
    .enabled(if: WebDriverSession.available || WebDriverSession.required, "chromium and chromium-driver are not installed"))
struct PortalBrowserTests {
    static let projectID = "edc89b490d7d4392898e19b2deb34797"
    static let examples = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("examples/portal")
    static let screenshot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent(".build/portal-screenshot.png")

    /// The simulator, a gateway allowing `allowedOrigin`, and the portal's backend on
    /// `portalPort` asking tokens for `tokenOrigin`; `body` gets the portal's URL and the gateway's.
    static func withPortal(
        images: [String], allowedOrigin: (Int) -> String, tokenOrigin: (Int) -> String?,
        _ body: (_ portal: String, _ gateway: String, _ http: CurlHTTPClient) async throws -> Void
    ) async throws {
        let binary = try ChildProcess.binary()
        let password = "portal-\(UInt64.random(in: 0...UInt64.max))"
        let simulator = try ChildProcess.start(
            binary,
            ["simulator", "--port", "0", "--job-duration-ms", "1500", "--share", "\(projectID)=\(images.joined(separator: ","))"],
            environment: ["IMSGW_IAM_PASSWORD": password])
        defer { simulator.kill() }
        let upstream = "http://127.0.0.1:\(try await simulator.port(logLine: "ims simulator listening"))"
        let key = "portal-key-\(UInt64.random(in: 0...UInt64.max))"
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let clients = folder.path("clients.yaml")
        try """
            clients:
              - name: portal
                key_sha256: [\(ClientKey.sha256Hex(key))]
                projects: ["\(projectID)"]
                rate_limit: {rate: 100, burst: 100}
            """.write(toFile: clients, atomically: true, encoding: .utf8)
        let portalPort = try WebDriverSession.freePort()
        let gateway = try ChildProcess.start(
            binary,
            [
                "serve", "--port", "0", "--ims-url", upstream, "--iam-url", upstream, "--iam-domain", "demo-domain",
                "--iam-user", "demo-user", "--probe-project-id", projectID, "--clients-file", clients,
                "--max-images-per-job", "5", "--upstream-rate", "1000", "--upstream-burst", "1000",
                "--poll-initial-ms", "300", "--poll-max-ms", "500", "--cors-allowed-origins", allowedOrigin(portalPort),
            ],
            environment: [
                "IMSGW_IAM_PASSWORD": password, "IMSGW_BROWSER_TOKENS_SECRET": "portal-test-secret-\(UUID().uuidString)",
            ])
        defer { gateway.kill() }
        let gatewayBase = "http://127.0.0.1:\(try await gateway.port(logLine: "ims-gateway listening"))"
        var arguments = [
            examples.appendingPathComponent("backend.py").path, "--port", "\(portalPort)", "--gateway", gatewayBase,
        ]
        if let origin = tokenOrigin(portalPort) { arguments += ["--origin", origin] }
        let backend = try ChildProcess.start(
            URL(fileURLWithPath: "/usr/bin/env"), ["python3"] + arguments, environment: ["PORTAL_CLIENT_KEY": key])
        defer { backend.kill() }
        let listening = try await GracefulShutdownTests.poll(within: .seconds(20), every: .milliseconds(50)) {
            backend.log.contains("portal backend listening")
        }
        try #require(listening, "the portal backend did not start:\n\(backend.log)")
        let http = try CurlHTTPClient(configuration: .init(maxConnections: 16))
        defer { http.shutdown() }
        let ready = try await GracefulShutdownTests.poll(within: .seconds(20)) {
            try await http.execute(CurlHTTPRequest(method: "GET", url: gatewayBase + "/readyz")).status == 200
        }
        try #require(ready, "the gateway did not become ready:\n\(gateway.log)")
        try await body("http://127.0.0.1:\(portalPort)", gatewayBase, http)
    }

    /// The page's `data-phase` once it is `done` or `error` (read every 200 ms), or as it is
    /// when `limit` passes.
    static func endPhase(_ browser: WebDriverSession, within limit: Duration) async throws -> String {
        var phase = ""
        let end = ContinuousClock.now.advanced(by: limit)
        while ContinuousClock.now < end {
            phase = try await browser.run("return document.body.dataset.phase;") as? String ?? ""
            if phase == "done" || phase == "error" { break }
            try await Task.sleep(for: .milliseconds(200))
        }
        return phase
    }

    /// 50 distinct image ids.
    static let images = (0..<50).map { String(format: "%08x-1bc3-4c3f-893e-%012x", 0xd164b5df + $0, 0x3e471fd16e64 + $0) }

    @Test("an accept of 50 images in batches of 5 from the page: every batch shows its job id before the end, the final outcome is succeeded with status 200; a screenshot is written under .build/")
    func acceptFromThePage() async throws {
        try await Self.withPortal(images: Self.images, allowedOrigin: { "http://127.0.0.1:\($0)" }, tokenOrigin: { _ in nil }) {
            portal, gateway, http in
            let browser = try await WebDriverSession.start(http: http)
            do {
                try await browser.open(portal + "/")
                _ = try await browser.run(
                    """
                    const start = () => {
                      document.getElementById('project').value = arguments[0];
                      document.getElementById('images').value = arguments[1];
                      document.getElementById('wait').value = '60';
                      document.getElementById('accept').click();
                    };
                    start();
                    return true;
                    """, [Self.projectID, Self.images.joined(separator: "\n")])
                let phase = try await Self.endPhase(browser, within: .seconds(90))
                try? FileManager.default.createDirectory(
                    at: Self.screenshot.deletingLastPathComponent(), withIntermediateDirectories: true)
                try? (try await browser.screenshot()).write(to: Self.screenshot)
                let error = try await browser.run("return document.getElementById('error').textContent;") as? String ?? ""
                #expect(phase == "done", "the page ended in \(phase): \(error)")
                let rows = try await browser.run(
                    """
                    return [...document.querySelectorAll('#batches tr[data-batch]')].map(r => ({
                      before: r.dataset.jobIdBeforeEnd || '', job: r.querySelector('.job-id').textContent.trim(),
                      state: r.querySelector('.state').textContent.trim() }));
                    """) as? [[String: Any]] ?? []
                #expect(rows.count == 10)
                for (index, row) in rows.enumerated() {
                    #expect(row["before"] as? String == "true", "batch \(index) showed no job id before the end: \(row)")
                    #expect((row["job"] as? String)?.count == 32, "batch \(index): \(row)")
                    #expect(row["state"] as? String == "succeeded", "batch \(index): \(row)")
                }
                #expect(try await browser.run("return document.getElementById('outcome').textContent;") as? String == "succeeded")
                #expect(try await browser.run("return document.getElementById('status').textContent;") as? String == "200")
                // The page's own record of the stream: admitted first, result last.
                let kinds = try await browser.run("return window.portal.events;") as? [String] ?? []
                #expect(kinds.first == "admitted")
                #expect(kinds.last == "result")
            } catch {
                await browser.close()
                throw error
            }
            await browser.close()
        }
    }

    @Test("a page of an unlisted origin: the browser's preflight reaches the gateway and gets no Access-Control-Allow-Origin, so no POST does")
    func unlistedOrigin() async throws {
        // The gateway allows another origin; the backend gets its tokens for that one (so the
        // token step works), but the page is served from its own, unlisted origin.
        let listed = "http://127.0.0.1:1"
        try await Self.withPortal(images: Self.images, allowedOrigin: { _ in listed }, tokenOrigin: { _ in listed }) {
            portal, gateway, http in
            let browser = try await WebDriverSession.start(http: http)
            do {
                try await browser.open(portal + "/")
                _ = try await browser.run(
                    """
                    document.getElementById('project').value = arguments[0];
                    document.getElementById('images').value = arguments[1];
                    document.getElementById('accept').click();
                    return true;
                    """, [Self.projectID, Self.images.prefix(5).joined(separator: "\n")])
                #expect(try await Self.endPhase(browser, within: .seconds(30)) == "error")
            } catch {
                await browser.close()
                throw error
            }
            await browser.close()
            let metrics = String(decoding: try await http.execute(CurlHTTPRequest(method: "GET", url: gateway + "/metrics")).body, as: UTF8.self)
            let preflights = metrics.split(separator: "\n").first { $0.hasPrefix(#"imsgw_cors_preflights_total{origin="unlisted"}"#) }
            #expect((preflights?.split(separator: " ").last).flatMap { Double($0) } ?? 0 >= 1, "no preflight counted: \(String(describing: preflights))")
            #expect(!metrics.contains(#"route="/accept-images""#), "a POST reached the gateway")
        }
    }
}
