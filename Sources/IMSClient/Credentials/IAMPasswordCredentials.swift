/// An IAM user's password credentials (IAM `POST /v3/auth/tokens`, doc iam_30_0001).
///
/// `description` never shows the password.
public struct IAMPasswordCredentials: Sendable, CustomStringConvertible {
    /// The account (domain) name the IAM user belongs to.
    public var domainName: String
    /// The IAM user name.
    public var userName: String
    /// The IAM user's password. Secret: never logged.
    public var password: String

    /// Creates password credentials.
    public init(domainName: String, userName: String, password: String) {
        self.domainName = domainName
        self.userName = userName
        self.password = password
    }

    public var description: String {
        "IAMPasswordCredentials(domain: \(domainName), user: \(userName), password: <redacted>)"
    }
}
