import Synchronization

/// Slots for long-held calls (long polls of `GET .../{request_id}` with `Prefer: wait`, event
/// streams): at most a number per client and a number in all, so that one client cannot hold
/// every slot of the gateway. Taken by ``take(_:perClient:)``, given back by ``release(_:)``.
final class ClientSlots: Sendable {
    /// What ``take(_:perClient:)`` decided.
    enum Take: Equatable {
        /// A slot is held: give it back with ``release(_:)``.
        case taken
        /// The client holds `limit` slots already.
        case clientFull(limit: Int)
        /// Every slot (`limit`) is held.
        case full(limit: Int)
    }

    private struct State {
        var byClient: [String: Int] = [:]
        var total = 0
    }

    /// Most slots of all clients together.
    let totalLimit: Int
    private let state = Mutex(State())

    /// - Parameter total: most slots held at once by all clients together (at least 1).
    init(total: Int) {
        totalLimit = max(1, total)
    }

    /// Takes a slot for `client`, who may hold at most `perClient` (at least 1).
    func take(_ client: String, perClient: Int) -> Take {
        let limit = max(1, perClient)
        return state.withLock { state in
            guard state.total < totalLimit else { return .full(limit: totalLimit) }
            let held = state.byClient[client, default: 0]
            guard held < limit else { return .clientFull(limit: limit) }
            state.byClient[client] = held + 1
            state.total += 1
            return .taken
        }
    }

    /// Gives back a slot of `client`.
    func release(_ client: String) {
        state.withLock { state in
            guard let held = state.byClient[client] else { return }
            state.byClient[client] = held > 1 ? held - 1 : nil
            state.total = max(0, state.total - 1)
        }
    }

    /// Slots held now by `client` (nil: by all clients).
    func held(by client: String? = nil) -> Int {
        state.withLock { state in client.map { state.byClient[$0, default: 0] } ?? state.total }
    }
}
