import Testing

@testable import IMSGateway

@Suite("Prefer: wait")
struct WaitPreferenceTests {
    @Test(arguments: [
        ("wait=10", 10, true), ("respond-async, wait=10", 10, true), ("wait=\"7\"", 7, true),
        ("wait=0", 1, true), ("wait=5000", 900, true), ("wait=99999999999999999999", 900, true),
        ("wait=+3", 300, false), ("wait=-1", 300, false), ("wait=abc", 300, false), ("wait=3.5", 300, false),
        ("", 300, false), ("handling=lenient", 300, false), ("wait=5, wait=6", 5, true), ("wait=1, wait=100", 1, true), ("wait=abc, wait=6", 300, false),
    ])
    func parse(header: String, seconds: Int, requested: Bool) {
        let preference = WaitPreference(header: header, defaultSeconds: 300, maxSeconds: 900)
        #expect(preference.seconds == seconds)
        #expect(preference.requested == requested)
    }
}
