/// The calls the simulator answers, named as `/_sim/stats` counts them and as call faults
/// select them.
enum SimulatedOperation: String, Sendable {
    case batchUpdateMembers = "BatchUpdateMembers"
    case showJob = "ShowJob"
    case showJobProgress = "ShowJobProgress"
    case createToken = "KeystoneCreateUserTokenByPassword"

    /// IMS calls count toward the account's quota; IAM is another service.
    var countsTowardQuota: Bool {
        self != .createToken
    }
}
