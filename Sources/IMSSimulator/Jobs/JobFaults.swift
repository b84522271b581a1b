/// The faults attached to one job when it was created (from the plan's ``JobFault``s).
struct JobFaults: Sendable {
    /// A word reported instead of the real status.
    struct StatusWord: Sendable {
        var word: String
        /// Replaces INIT/RUNNING when true, SUCCESS/FAIL when false.
        var whileRunning: Bool
    }

    /// A field left out of the job's answers.
    struct Omission: Sendable {
        var field: JobFault.Field
        /// The first this many answers; `nil` for all.
        var polls: Int?
    }

    /// The first this many polls answer 404.
    var notFoundPolls = 0
    var statusWord: StatusWord?
    var omissions: [Omission] = []
    /// The JSON names of the attached faults, in plan order (shown by `/_sim/jobs`).
    var names: [String] = []
}
