import Foundation
import Testing

@testable import IMSGateway

@Suite("RequestIdentifier: request ids and correlation ids")
struct RequestIdentifierTests {
    @Test("a new request id is a lower-case version 4 UUID, 8-4-4-4-12 hexadecimal, the RFC's variant; 10,000 are distinct")
    func newIDs() {
        var seen: Set<String> = []
        for _ in 0..<10_000 {
            let id = RequestIdentifier.make()
            let groups = id.split(separator: "-", omittingEmptySubsequences: false)
            #expect(groups.map(\.count) == [8, 4, 4, 4, 12], "\(id)")
            #expect(id.allSatisfy { "0123456789abcdef-".contains($0) }, "\(id)")
            #expect(groups[2].first == "4", "version 4: \(id)")
            #expect(groups[3].first.map { "89ab".contains($0) } == true, "variant: \(id)")
            #expect(UUID(uuidString: id)?.uuidString.lowercased() == id, "Foundation reads it as the same UUID: \(id)")
            seen.insert(id)
        }
        #expect(seen.count == 10_000)
    }

    @Test("a caller's short plain X-Request-Id is the correlation id; anything else is not")
    func correlation() {
        #expect(RequestIdentifier.correlation("portal-42.a_b") == "portal-42.a_b")
        #expect(RequestIdentifier.correlation(nil) == nil)
        #expect(RequestIdentifier.correlation("") == nil)
        #expect(RequestIdentifier.correlation(".") == nil)
        #expect(RequestIdentifier.correlation("..") == nil)
        #expect(RequestIdentifier.correlation("a b") == nil)
        #expect(RequestIdentifier.correlation(String(repeating: "a", count: 129)) == nil)
        #expect(RequestIdentifier.correlation(String(repeating: "a", count: 128)) != nil)
    }
}
