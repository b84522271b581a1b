import HTTPTypes
import Hummingbird
import NIOCore

/// `GET /metrics`: every metric in the Prometheus text format (version 0.0.4).
struct MetricsController {
    let metrics: GatewayMetrics

    func addRoutes(to router: Router<GatewayRequestContext>) {
        router.get("/metrics") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(bytes: metrics.render())))
        }
    }
}
