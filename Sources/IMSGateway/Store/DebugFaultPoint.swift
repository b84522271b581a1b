#if DEBUG
import Foundation

/// Crash points for the crash tests of the built binary (docs/ARCHITECTURE.md, "State and
/// recovery"), compiled into debug builds only: when `IMSGW_DEBUG_CRASH_AT` names a point, the
/// process kills itself with SIGKILL there, as an OOM kill would, with no timing luck involved.
enum DebugFaultPoint: String {
    /// Right after a request's final state was committed, before its caller is answered.
    case afterFinalStored = "after-final-stored"
    /// Right after a job id was committed.
    case afterJobIDStored = "after-job-id-stored"

    private static let armed = ProcessInfo.processInfo.environment["IMSGW_DEBUG_CRASH_AT"].flatMap(DebugFaultPoint.init)

    /// Kills the process when this point is armed.
    func hit() {
        guard Self.armed == self else { return }
        FileHandle.standardError.write(Data("ims-gateway: debug crash point \(rawValue) reached; SIGKILL\n".utf8))
        kill(getpid(), SIGKILL)
    }
}
#endif
