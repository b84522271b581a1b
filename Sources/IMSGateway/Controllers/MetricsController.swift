import HTTPTypes
import Hummingbird
import NIOCore

/// `GET /metrics`: every metric in the Prometheus text format (version 0.0.4).
struct MetricsController {
    let metrics: GatewayMetrics
    /// Brings the gauges that are read, not pushed, up to date (the IMS pause left).
    let beforeRender: @Sendable () -> Void

    func addRoutes(to router: Router<GatewayRequestContext>) {
        router.get("/metrics") { _, _ in
            beforeRender()
            return Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(bytes: metrics.render())))
        }
    }
}
