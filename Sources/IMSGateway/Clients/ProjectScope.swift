/// The projects a client may act on.
public enum ProjectScope: Sendable, Equatable {
    /// Every project (`projects: ["*"]` in the clients file).
    case all
    /// Only these `project_id`s, each 32 lower-case hexadecimal characters.
    case only(Set<String>)

    /// Whether `projectID` (already normalised to lower case) is in the scope.
    public func contains(_ projectID: String) -> Bool {
        switch self {
        case .all: return true
        case .only(let projects): return projects.contains(projectID)
        }
    }
}
