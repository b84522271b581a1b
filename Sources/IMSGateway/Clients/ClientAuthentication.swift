/// How the gateway knows its callers (docs/ARCHITECTURE.md, "Callers and their limits").
public enum ClientAuthentication: Sendable {
    /// `Authorization: Bearer <key>`, checked against the clients of the registry (a clients
    /// file, reloaded on SIGHUP, or clients held in memory).
    case clients(ClientRegistry)
    /// No authentication: every caller is the client `anonymous`, allowed every project, with
    /// `rateLimit`. For local use only (`--insecure-no-auth`); logged loudly at start.
    case insecureNoAuth(rateLimit: ClientRateLimit)

    /// The name of the client every caller is without authentication.
    public static let anonymousClientName = "anonymous"
}
