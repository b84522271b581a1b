import CCurl
import Foundation
import Synchronization

/// The one `CURLM` multi handle and the one thread that drives it.
///
/// Other threads only append to a locked submission queue (new transfers, cancellations,
/// shutdown) and call `curl_multi_wakeup`; everything that touches a libcurl handle happens
/// on the engine thread, so libcurl needs no locking of its own. Connections live in the
/// multi handle's pool and are reused by every later transfer to the same host.
final class CurlMultiEngine: @unchecked Sendable {
    private struct Inbox {
        var incoming: [CurlTransfer] = []
        var cancellations: [CurlTransfer] = []
        var stopping = false
    }

    private let multi: UnsafeMutableRawPointer
    private let inbox = Mutex(Inbox())
    private let finished = DispatchSemaphore(value: 0)
    private let configuration: CurlHTTPClient.Configuration

    // Engine-thread state.
    private var active: [UnsafeMutableRawPointer: CurlTransfer] = [:]
    private var idleHandles: [UnsafeMutableRawPointer] = []

    private static let globalInit: Bool = {
        curl_global_init(imsgw_curl_global_all) == CURLE_OK
    }()

    init(configuration: CurlHTTPClient.Configuration) throws(CurlHTTPError) {
        guard Self.globalInit, let multi = curl_multi_init() else {
            throw CurlHTTPError(code: .other, mayHaveReachedServer: false, message: "libcurl could not be initialised")
        }
        self.multi = multi
        self.configuration = configuration
        _ = imsgw_multi_setopt_long(multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, configuration.maxConnections)
        _ = imsgw_multi_setopt_long(multi, CURLMOPT_MAXCONNECTS, configuration.maxConnections)
        let thread = Thread { [self] in
            self.run()
            self.finished.signal()
        }
        thread.name = "curl-multi"
        thread.start()
    }

    /// Queues a transfer. Returns false when the engine no longer accepts work.
    func submit(_ transfer: CurlTransfer) -> Bool {
        // The wakeup happens under the lock: shutdown() frees the multi handle only after it
        // has set `stopping` under the same lock.
        inbox.withLock { inbox -> Bool in
            guard !inbox.stopping else { return false }
            inbox.incoming.append(transfer)
            curl_multi_wakeup(multi)
            return true
        }
    }

    /// Asks the engine to remove a transfer and resume it with ``CurlHTTPError/Code/cancelled``.
    func cancel(_ transfer: CurlTransfer) {
        transfer.cancelRequested.store(true, ordering: .sequentiallyConsistent)
        inbox.withLock { inbox in
            guard !inbox.stopping else { return }
            inbox.cancellations.append(transfer)
            curl_multi_wakeup(multi)
        }
    }

    /// Stops the engine: every unfinished transfer fails with ``CurlHTTPError/Code/shutdown``,
    /// the thread exits and the multi handle is freed. Idempotent; blocks until the thread ends.
    func shutdown() {
        let first = inbox.withLock { inbox -> Bool in
            defer { inbox.stopping = true }
            return !inbox.stopping
        }
        guard first else { return }
        curl_multi_wakeup(multi)
        finished.wait()
        curl_multi_cleanup(multi)
    }

    // MARK: engine thread

    private func run() {
        while true {
            let (incoming, cancellations, stopping) = inbox.withLock { inbox in
                defer {
                    inbox.incoming.removeAll()
                    inbox.cancellations.removeAll()
                }
                return (inbox.incoming, inbox.cancellations, inbox.stopping)
            }
            for transfer in incoming { start(transfer) }
            for transfer in cancellations {
                guard let easy = transfer.easy, active[easy] === transfer else { continue }
                complete(easy, with: .failure(CurlHTTPError.cancelled()))
            }
            if stopping {
                for easy in Array(active.keys) { complete(easy, with: .failure(CurlHTTPError.shutdown())) }
                for easy in idleHandles { curl_easy_cleanup(easy) }
                idleHandles.removeAll()
                return
            }
            var running: Int32 = 0
            _ = curl_multi_perform(multi, &running)
            collectFinished()
            _ = curl_multi_poll(multi, nil, 0, 1000, nil)
        }
    }

    private func start(_ transfer: CurlTransfer) {
        if transfer.cancelRequested.load(ordering: .sequentiallyConsistent) {
            transfer.finish(.failure(CurlHTTPError.cancelled()))
            return
        }
        guard let easy = idleHandles.popLast() ?? curl_easy_init() else {
            transfer.finish(.failure(CurlHTTPError(code: .other, mayHaveReachedServer: false, message: "curl_easy_init failed")))
            return
        }
        transfer.easy = easy
        if let problem = CurlEasyOptions.apply(transfer, to: easy, configuration: configuration) {
            release(easy, of: transfer)
            transfer.finish(.failure(problem))
            return
        }
        let added = curl_multi_add_handle(multi, easy)
        guard added == CURLM_OK else {
            release(easy, of: transfer)
            transfer.finish(.failure(CurlHTTPError(
                code: .other, mayHaveReachedServer: false, curlCode: Int(added.rawValue),
                message: String(cString: curl_multi_strerror(added)))))
            return
        }
        active[easy] = transfer
    }

    private func collectFinished() {
        var remaining: Int32 = 0
        while let message = curl_multi_info_read(multi, &remaining) {
            guard message.pointee.msg == CURLMSG_DONE, let easy = message.pointee.easy_handle else { continue }
            let code = message.pointee.data.result
            guard let transfer = active[easy] else { continue }
            if code == CURLE_OK {
                var status = 0
                var connects = 0
                _ = imsgw_easy_getinfo_long(easy, CURLINFO_RESPONSE_CODE, &status)
                _ = imsgw_easy_getinfo_long(easy, CURLINFO_NUM_CONNECTS, &connects)
                let response = CurlHTTPResponse(
                    status: status, headers: transfer.responseHeaders, body: transfer.responseBody,
                    connectionsOpened: connects)
                complete(easy, with: .success(response))
            } else {
                complete(easy, with: .failure(CurlErrorMapping.error(for: code, transfer: transfer, easy: easy)))
            }
        }
    }

    private func complete(_ easy: UnsafeMutableRawPointer, with result: Result<CurlHTTPResponse, any Error>) {
        guard let transfer = active.removeValue(forKey: easy) else { return }
        curl_multi_remove_handle(multi, easy)
        release(easy, of: transfer)
        transfer.finish(result)
    }

    /// Frees what the transfer allocated and keeps the easy handle for the next transfer.
    private func release(_ easy: UnsafeMutableRawPointer, of transfer: CurlTransfer) {
        curl_easy_reset(easy)
        if let list = transfer.headerList { curl_slist_free_all(list) }
        transfer.headerList = nil
        transfer.errorBuffer?.deallocate()
        transfer.errorBuffer = nil
        transfer.easy = nil
        if idleHandles.count < configuration.maxConnections {
            idleHandles.append(easy)
        } else {
            curl_easy_cleanup(easy)
        }
    }
}
