import Foundation

/// The id of one gateway process among the replicas sharing a PostgreSQL store
/// (docs/ARCHITECTURE.md, "Replicas"): the owner of the requests it runs, in every log line as
/// `replica`. A new one at each start, so that a restarted replica never takes for its own the
/// leases of the process it replaces: those expire and are taken over like any other.
public enum ReplicaID {
    /// `HOSTNAME-XXXXXXXX`: the host name (a Kubernetes pod's name), cut to 48 characters of
    /// letters, digits, `-`, `.` and `_`, then 8 random hexadecimal digits.
    public static func make(hostName: String = ProcessInfo.processInfo.hostName) -> String {
        let allowed = hostName.unicodeScalars.filter { scalar in
            scalar.isASCII && (CharacterSet.alphanumerics.contains(scalar) || "-._".unicodeScalars.contains(scalar))
        }
        var name = String(String.UnicodeScalarView(allowed).prefix(48))
        if name.isEmpty { name = "gateway" }
        return name + "-" + String(format: "%08x", UInt32.random(in: 0...UInt32.max))
    }
}
