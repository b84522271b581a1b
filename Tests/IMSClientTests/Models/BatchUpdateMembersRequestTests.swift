import Foundation
import Testing

@testable import IMSClient

@Suite("BatchUpdateMembersRequest.jsonBytes")
struct BatchUpdateMembersRequestTests {
    @Test func sortedKeysWithoutVaultID() {
        let request = BatchUpdateMembersRequest(
            images: ["d164b5df-1bc3-4c1d-8b3b-2fa4a4e3f1a1", "0b2a8c1e-5f7a-4a2c-9d0e-7c3b1e2f4a5b"],
            projectID: "fedcba9876543210fedcba9876543210", status: .accepted)
        let json = String(decoding: request.jsonBytes(), as: UTF8.self)
        #expect(
            json
                == #"{"images":["d164b5df-1bc3-4c1d-8b3b-2fa4a4e3f1a1","0b2a8c1e-5f7a-4a2c-9d0e-7c3b1e2f4a5b"],"#
                + #""project_id":"fedcba9876543210fedcba9876543210","status":"accepted"}"#)
    }

    @Test func vaultIDPresentWhenSet() {
        let request = BatchUpdateMembersRequest(
            images: ["d164b5df-1bc3-4c1d-8b3b-2fa4a4e3f1a1"], projectID: "fedcba9876543210fedcba9876543210",
            status: .accepted, vaultID: "3b5816b5-f29c-4172-9d9a-76c719cb9999")
        let json = String(decoding: request.jsonBytes(), as: UTF8.self)
        #expect(
            json
                == #"{"images":["d164b5df-1bc3-4c1d-8b3b-2fa4a4e3f1a1"],"project_id":"fedcba9876543210fedcba9876543210","#
                + #""status":"accepted","vault_id":"3b5816b5-f29c-4172-9d9a-76c719cb9999"}"#)
    }

    @Test func rejectedWithNoImagesAndUnescapedSlash() {
        let request = BatchUpdateMembersRequest(images: [], projectID: "p/1", status: .rejected)
        let json = String(decoding: request.jsonBytes(), as: UTF8.self)
        #expect(json == #"{"images":[],"project_id":"p/1","status":"rejected"}"#)
    }

    /// Written directly or by `JSONEncoder`, the bytes are the same: strings that need no escape
    /// (non-ASCII, slashes, DEL, U+2028) and strings that do (quotes, backslashes, controls).
    @Test(arguments: [
        "fedcba9876543210fedcba9876543210", "é/ü\u{7F}\u{2028}", "", #"q"uote"#, #"back\slash"#, "tab\tnew\nline\u{1}",
    ])
    func bytesAreWhatJSONEncoderWrites(text: String) throws {
        for vaultID in [nil, text] {
            let request = BatchUpdateMembersRequest(images: [text, "b"], projectID: text, status: .accepted, vaultID: vaultID)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            #expect(request.jsonBytes() == Array(try encoder.encode(request)))
        }
    }
}
