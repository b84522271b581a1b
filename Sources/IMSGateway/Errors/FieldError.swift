/// One invalid field of a request body, as listed in a problem's `errors[]`.
public struct FieldError: Sendable, Equatable, Codable {
    /// The field, e.g. `project_id` or `images[3]` (`body` for the whole body).
    public var field: String
    /// What is wrong with it.
    public var detail: String

    /// Creates a field error.
    public init(field: String, detail: String) {
        self.field = field
        self.detail = detail
    }
}
