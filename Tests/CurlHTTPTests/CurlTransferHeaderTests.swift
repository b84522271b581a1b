@testable import CurlHTTP
import Testing

/// ``CurlTransfer/receiveHeaderLine(_:count:)`` fed header lines as libcurl's header callback
/// delivers them (status lines and the blank line included, `\r\n` kept).
struct CurlTransferHeaderTests {
    private func headers(_ lines: [String]) -> [(name: String, value: String)] {
        let transfer = CurlTransfer(request: CurlHTTPRequest(method: "GET", url: "http://127.0.0.1/"))
        for line in lines {
            var bytes = Array(line.utf8CString.dropLast())
            let count = bytes.count
            #expect(bytes.withUnsafeMutableBufferPointer { transfer.receiveHeaderLine($0.baseAddress!, count: count) } == count)
        }
        return transfer.responseHeaders
    }

    @Test func splitsNameAndValueAndTrimsTheValue() {
        let got = headers(["HTTP/1.1 200 OK\r\n", "Content-Type: application/json\r\n", "X-Empty:\r\n", "X-Spaces: \t a b \t\r\n", "\r\n"])
        #expect(got.map(\.name) == ["Content-Type", "X-Empty", "X-Spaces"])
        #expect(got.map(\.value) == ["application/json", "", "a b"])
    }

    @Test func aStatusLineStartsANewResponse() {
        let got = headers(["HTTP/1.1 100 Continue\r\n", "X-Interim: 1\r\n", "\r\n", "HTTP/1.1 200 OK\r\n", "X-Final: 2\r\n", "\r\n"])
        #expect(got.map(\.name) == ["X-Final"])
        #expect(got.map(\.value) == ["2"])
    }

    @Test func linesWithoutAColonAndBareLineEndsAreIgnored() {
        let got = headers(["HTTP/2 200\r\n", "no colon here\r\n", "\n", "\r\n", "A: 1\n"])
        #expect(got.map(\.name) == ["A"])
        #expect(got.map(\.value) == ["1"])
    }

    @Test func anObsoleteLineFoldContinuesTheValueBeforeIt() {
        // RFC 9112 section 5.2: a recipient replaces each obs-fold with a space.
        let got = headers(["HTTP/1.1 200 OK\r\n", "X-Long: first\r\n", " \tsecond: part\r\n", "\tthird\r\n", "B: 2\r\n"])
        #expect(got.map(\.name) == ["X-Long", "B"])
        #expect(got.map(\.value) == ["first second: part third", "2"])
    }

    @Test func aFoldAfterAnEmptyValueIsTheValue() {
        let got = headers(["HTTP/1.1 200 OK\r\n", "X-A:\r\n", "  b\r\n"])
        #expect(got.map(\.value) == ["b"])
    }

    @Test func aFoldBeforeAnyHeaderIsIgnored() {
        #expect(headers(["HTTP/1.1 200 OK\r\n", " orphan: x\r\n"]).isEmpty)
    }

    @Test func invalidUTF8IsReplacedNotFatal() {
        let transfer = CurlTransfer(request: CurlHTTPRequest(method: "GET", url: "http://127.0.0.1/"))
        var bytes: [CChar] = Array("X-Bin: a".utf8).map { CChar(bitPattern: $0) } + [CChar(bitPattern: 0xFF), 0x0D, 0x0A]
        let count = bytes.count
        _ = bytes.withUnsafeMutableBufferPointer { transfer.receiveHeaderLine($0.baseAddress!, count: count) }
        #expect(transfer.responseHeaders.map(\.name) == ["X-Bin"])
        #expect(transfer.responseHeaders.map(\.value) == ["a\u{FFFD}"])
    }
}
