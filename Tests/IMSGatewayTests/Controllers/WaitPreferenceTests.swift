import Testing

@testable import IMSGateway

@Suite("Prefer: wait")
struct WaitPreferenceTests {
    @Test(arguments: [
        ("wait=10", 10, true), ("respond-async, wait=10", 10, true), ("wait=\"7\"", 7, true),
        ("wait=0", 1, true), ("wait=5000", 900, true), ("wait=99999999999999999999", 900, true),
        ("wait=+3", 300, false), ("wait=-1", 300, false), ("wait=abc", 300, false), ("wait=3.5", 300, false),
        ("", 300, false), ("handling=lenient", 300, false), ("wait=5, wait=6", 5, true), ("wait=1, wait=100", 1, true), ("wait=abc, wait=6", 300, false),
        // Quoted strings: commas inside belong to them; an unfinished one is no preference.
        ("x=\"a,wait=14\"", 300, false), ("wait=\"\"\"7", 300, false), ("x=\"a\\\",wait=2\", wait=9", 9, true),
        ("WAIT=12", 12, true), ("  wait = 8 ; p=1", 8, true), ("wait=8;x=\"y,z\"", 8, true),
    ])
    func parse(header: String, seconds: Int, requested: Bool) {
        let preference = WaitPreference(header: header, defaultSeconds: 300, maxSeconds: 900)
        #expect(preference.seconds == seconds)
        #expect(preference.requested == requested)
    }

    @Test("several Prefer fields count in order (the first wait wins); respond-async is seen in any of them and in any letter case")
    func severalFields() {
        let both = WaitPreference(PreferHeader(["wait=10", "wait=20, Respond-Async"]), defaultSeconds: 300, maxSeconds: 900)
        #expect(both.seconds == 10)
        #expect(both.requested)
        #expect(both.respondAsync)
        let plain = WaitPreference(PreferHeader(["wait=20"]), defaultSeconds: 300, maxSeconds: 900)
        #expect(!plain.respondAsync)
        #expect(PreferHeader(["respond-async"]).value("respond-async") == "")
        #expect(PreferHeader(["a=\"x\\\"y\""]).value("a") == "x\"y")
    }
}
