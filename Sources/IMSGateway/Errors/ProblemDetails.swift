/// RFC 9457 problem details, served as `application/problem+json`.
public struct ProblemDetails: Sendable, Encodable {
    /// A URI naming the kind of problem, `urn:ims-gateway:problem:<slug>`.
    public var type: String
    /// Short summary of the kind of problem.
    public var title: String
    /// HTTP status.
    public var status: Int
    /// What went wrong with this request.
    public var detail: String
    /// The request it happened to: `urn:ims-gateway:request:<request_id>`.
    public var instance: String?
    /// Invalid fields, for 400.
    public var errors: [FieldError]?

    /// Creates a problem.
    public init(slug: String, title: String, status: Int, detail: String, requestID: String?, errors: [FieldError]? = nil) {
        self.type = "urn:ims-gateway:problem:\(slug)"
        self.title = title
        self.status = status
        self.detail = detail
        self.instance = requestID.map { "urn:ims-gateway:request:\($0)" }
        self.errors = errors
    }
}
