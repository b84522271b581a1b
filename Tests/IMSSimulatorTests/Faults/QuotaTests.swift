import IMSSimulator
import Testing

/// The `--quota` text form, without a server.
@Suite("quota settings")
struct QuotaSettingTests {
    @Test("CALLS/SECONDS parses; anything else is refused")
    func parsing() throws {
        #expect(try Quota(parsing: "100/10") == Quota(calls: 100, windowSeconds: 10))
        #expect(try Quota(parsing: " 5 / 60 ") == Quota(calls: 5, windowSeconds: 60))
        for bad in ["", "100", "100/", "/10", "0/10", "10/0", "a/b", "1/2/3"] {
            #expect(throws: SimulatorSettingError.self, "\(bad)") { try Quota(parsing: bad) }
        }
    }
}
