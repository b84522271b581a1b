import CurlHTTP
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A headless Chromium driven through `chromedriver` over the W3C WebDriver protocol (JSON over
/// HTTP on loopback), with the gateway's own libcurl client: start a session, load a page, run
/// a script in it, take a screenshot. Debian's `chromium` and `chromium-driver`; `--no-sandbox`
/// because tests run as root.
final class WebDriverSession: @unchecked Sendable {
    /// Where Debian puts them.
    static let chromium = "/usr/bin/chromium"
    static let chromedriver = "/usr/bin/chromedriver"

    /// Whether both are installed here.
    static var available: Bool {
        FileManager.default.isExecutableFile(atPath: chromium) && FileManager.default.isExecutableFile(atPath: chromedriver)
    }

    /// `BROWSER_TEST_REQUIRED=1` (CI): a missing browser fails the test instead of skipping it.
    static let required = ProcessInfo.processInfo.environment["BROWSER_TEST_REQUIRED"] == "1"

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    private let driver: ChildProcess
    private let base: String
    private let id: String
    private let http: CurlHTTPClient

    private init(driver: ChildProcess, base: String, id: String, http: CurlHTTPClient) {
        self.driver = driver
        self.base = base
        self.id = id
        self.http = http
    }

    /// Starts chromedriver on a free port and a headless Chromium session in it.
    static func start(http: CurlHTTPClient) async throws -> WebDriverSession {
        guard available else { throw Failure(description: "chromium and chromium-driver are not installed (apt-get install chromium chromium-driver)") }
        let port = try freePort()
        let driver = try ChildProcess.start(URL(fileURLWithPath: chromedriver), ["--port=\(port)"], environment: [:])
        let base = "http://127.0.0.1:\(port)"
        var ready = false
        for _ in 0..<100 {
            if let status = try? await http.execute(CurlHTTPRequest(method: "GET", url: base + "/status")), status.status == 200 {
                ready = true
                break
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        guard ready else {
            driver.kill()
            throw Failure(description: "chromedriver did not answer:\n\(driver.log)")
        }
        let capabilities: [String: Any] = [
            "capabilities": [
                "alwaysMatch": [
                    "browserName": "chrome",
                    "goog:chromeOptions": [
                        "binary": chromium,
                        "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,1100"],
                    ],
                ]
            ]
        ]
        let answer = try await call(http, "POST", base + "/session", capabilities)
        guard let value = answer["value"] as? [String: Any], let id = value["sessionId"] as? String else {
            driver.kill()
            throw Failure(description: "no session: \(answer)")
        }
        return WebDriverSession(driver: driver, base: base, id: id, http: http)
    }

    /// Loads `url` and waits for it to load.
    func open(_ url: String) async throws {
        _ = try await command("POST", "/url", ["url": url])
    }

    /// Runs `script` (a function body; `arguments[i]` are `arguments`) in the page; its result.
    func run(_ script: String, _ arguments: [Any] = []) async throws -> Any? {
        try await command("POST", "/execute/sync", ["script": script, "args": arguments])["value"]
    }

    /// A PNG screenshot of the window.
    func screenshot() async throws -> Data {
        guard let text = try await command("GET", "/screenshot", nil)["value"] as? String, let data = Data(base64Encoded: text) else {
            throw Failure(description: "no screenshot")
        }
        return data
    }

    /// Ends the session and chromedriver (and its Chromium).
    func close() async {
        _ = try? await command("DELETE", "", nil)
        driver.kill()
    }

    private func command(_ method: String, _ path: String, _ body: [String: Any]?) async throws -> [String: Any] {
        let answer = try await Self.call(http, method, base + "/session/\(id)" + path, body)
        if let value = answer["value"] as? [String: Any], let error = value["error"] as? String {
            throw Failure(description: "WebDriver \(method) \(path): \(error): \(value["message"] ?? "")")
        }
        return answer
    }

    private static func call(_ http: CurlHTTPClient, _ method: String, _ url: String, _ body: [String: Any]?) async throws -> [String: Any] {
        let bytes = try body.map { Array(try JSONSerialization.data(withJSONObject: $0)) } ?? []
        let response = try await http.execute(CurlHTTPRequest(
            method: method, url: url, headers: [(name: "Content-Type", value: "application/json")], body: bytes,
            timeoutMilliseconds: 60_000))
        return ((try? JSONSerialization.jsonObject(with: Data(response.body))) as? [String: Any]) ?? [:]
    }

    /// A loopback port free now (bound, read, closed).
    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "no socket") }
        defer { Glibc.close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        guard bound == 0 else { throw Failure(description: "bind failed") }
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard named == 0 else { throw Failure(description: "getsockname failed") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
