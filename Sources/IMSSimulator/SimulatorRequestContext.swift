import Hummingbird
import Logging
import NIOCore

/// Hummingbird's basic request context plus the connection's channel, which the `close` fault
/// closes to drop a call without an answer.
struct SimulatorRequestContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    /// The connection the request came on.
    let channel: any Channel

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }
}
