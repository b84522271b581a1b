import GatewayStore
import Testing

@Suite("Store records")
struct RecordsTests {
    @Test("request states are stored under the words the answer uses")
    func stateWords() {
        #expect(RequestState.allCases.map(\.rawValue) == ["running", "final", "given_up", "not_submitted"])
    }
}
