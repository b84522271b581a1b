/// A fault attached to jobs when they are created: to the next ``count`` jobs created (that name
/// ``imageID``, when given), or to every such job when ``count`` is `nil`. Sent in the `jobs`
/// array of `PUT /_sim/faults`, e.g. `{"fault": "not_found", "polls": 3, "count": 1}`.
public struct JobFault: Sendable, Equatable {
    /// A field a ShowJob / ShowJobProgress answer can lack.
    public enum Field: String, Sendable, Equatable {
        /// The job's `status`.
        case status
        /// The job's `entities`.
        case entities
    }

    /// What happens to a job the fault is attached to.
    public enum Kind: Sendable, Equatable {
        /// The job takes this long, in milliseconds, whatever the distribution says (JSON
        /// `"fault": "duration"`, `"duration_ms"`). The distribution still draws, so later jobs
        /// keep their place in the seeded sequence.
        case duration(milliseconds: Int)
        /// The job never ends: RUNNING forever (JSON `"fault": "stuck"`).
        case stuck
        /// Report `word` instead of the real status: once the job is final (SUCCESS/FAIL) by
        /// default, or while it runs (INIT/RUNNING) with `whileRunning` (JSON
        /// `"fault": "status_word"`, `"status": "success"`, `"phase": "final"|"running"`).
        /// Everything else in the answer stays that of the real state.
        case statusWord(String, whileRunning: Bool)
        /// Leave `field` out of the job's answers: the first `polls` of them, or all when `nil`
        /// (JSON `"fault": "omit_field"`, `"field": "status"|"entities"`, optional `"polls"`).
        case omitField(Field, polls: Int?)
        /// Answer the job's first `polls` polls 404 as an unknown job ("not visible yet")
        /// (JSON `"fault": "not_found"`, `"polls"`).
        case notFound(polls: Int)

        /// The fault's JSON name, also its key in `faults_injected`.
        public var name: String {
            switch self {
            case .duration: "duration"
            case .stuck: "stuck"
            case .statusWord: "status_word"
            case .omitField: "omit_field"
            case .notFound: "not_found"
            }
        }
    }

    /// What the fault does.
    public var kind: Kind
    /// Only jobs naming this image ID; `nil` for any job.
    public var imageID: String?
    /// How many jobs it is attached to before it is used up; `nil` for every job.
    public var count: Int?

    /// Creates a job fault.
    /// - Parameters:
    ///   - kind: what it does.
    ///   - imageID: only jobs naming this image, or `nil` for any.
    ///   - count: the next N matching jobs, or `nil` for all.
    public init(_ kind: Kind, imageID: String? = nil, count: Int? = nil) {
        self.kind = kind
        self.imageID = imageID
        self.count = count
    }
}
