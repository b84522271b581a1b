import GatewayStore
import Logging
import Testing

@testable import IMSGateway

@Suite("store health as /readyz reports it")
struct StoreHealthTests {
    static let logger = Logger(label: "store-health", factory: { _ in SwiftLogNoOpLogHandler() })

    @Test("a failure starts an outage that counts failures and keeps the last kind; a success ends it; not_found is no outage")
    func outage() {
        let health = StoreHealth(logger: Self.logger)
        #expect(health.snapshot() == StoreHealth.Snapshot(reachable: true))
        health.failed(StoreError(.notFound, "no such request"))
        #expect(health.snapshot().reachable)

        let t0 = ContinuousClock.now
        health.failed(StoreError(.unavailable, "disk I/O error in /var/lib/ims-gateway/ims-gateway.sqlite"))
        health.failed(StoreError(.failed, "statement failed"))
        let during = health.snapshot(now: t0.advanced(by: .seconds(12)))
        #expect(during.reachable == false)
        #expect(during.failures == 2)
        #expect(during.error == "failed")
        #expect((during.failingForSeconds ?? -1) >= 11 && (during.failingForSeconds ?? 99) <= 12)

        health.succeeded()
        #expect(health.snapshot() == StoreHealth.Snapshot(reachable: true))
    }

    @Test("imsgw_store_reachable is 1 from the start, 0 during an outage, 1 again after it")
    func reachableGauge() {
        let metrics = GatewayMetrics()
        let health = StoreHealth(logger: Self.logger, metrics: metrics)
        func gauge() -> String? {
            String(decoding: metrics.render(), as: UTF8.self).split(separator: "\n")
                .first { $0.hasPrefix("imsgw_store_reachable ") }.map(String.init)
        }
        #expect(gauge() == "imsgw_store_reachable 1.0")
        health.failed(StoreError(.unavailable, "no connection"))
        #expect(gauge() == "imsgw_store_reachable 0.0")
        health.succeeded()
        #expect(gauge() == "imsgw_store_reachable 1.0")
    }
}
