import Foundation

/// What the simulated IAM and IMS know and how they behave.
public struct SimulatorConfiguration: Sendable {
    /// An IAM user that may obtain tokens.
    public struct User: Sendable {
        /// Account (domain) name.
        public var domainName: String
        /// IAM user name.
        public var name: String
        /// Password. Secret.
        public var password: String

        /// Creates a user.
        public init(domainName: String, name: String, password: String) {
            self.domainName = domainName
            self.name = name
            self.password = password
        }
    }

    /// An AK/SK pair the simulated API gateway accepts in `Authorization: SDK-HMAC-SHA256 ...`
    /// (docs/IMS-API.md, "AK/SK signing"). `description` shows neither the SK nor the security
    /// token.
    public struct AccessKey: Sendable, CustomStringConvertible {
        /// The access key (AK).
        public var accessKey: String
        /// The secret key (SK). Secret.
        public var secretKey: String
        /// For temporary (STS) credentials, the `X-Security-Token` every request must carry;
        /// `nil` for a permanent key. Secret.
        public var securityToken: String?
        /// For temporary credentials, when they stop working (then IMS answers 401 APIGW.0307);
        /// `nil` for never.
        public var expiresAt: Date?

        /// Creates an access key.
        /// - Parameters:
        ///   - accessKey: the AK.
        ///   - secretKey: the SK.
        ///   - securityToken: the security token of temporary credentials, or `nil`.
        ///   - expiresAt: expiry of temporary credentials, or `nil` for never.
        public init(accessKey: String, secretKey: String, securityToken: String? = nil, expiresAt: Date? = nil) {
            self.accessKey = accessKey
            self.secretKey = secretKey
            self.securityToken = securityToken
            self.expiresAt = expiresAt
        }

        /// The AK and expiry; `<redacted>` in place of the SK and the security token.
        public var description: String {
            let token = securityToken == nil ? "nil" : "<redacted>"
            let expiry = expiresAt.map { "\($0)" } ?? "nil"
            return "AccessKey(accessKey: \(accessKey), secretKey: <redacted>, securityToken: \(token), expiresAt: \(expiry))"
        }
    }

    /// IAM users accepted by `POST /v3/auth/tokens`.
    public var users: [User]
    /// The catalogue: for each member project (32 lower-case hex), the image IDs shared with
    /// it. A job naming any other image ends FAIL (IMG.0104).
    public var sharedImages: [String: Set<String>]
    /// Whole-machine images made from a CBR backup: a job accepting one without `vault_id`
    /// ends FAIL (docs/IMS-API.md, "Batch update image member status"; the code, `IMG.0197`,
    /// is assumed), with one it succeeds. Rejecting needs no vault.
    public var wholeMachineImages: Set<String>
    /// The plan the simulator starts with: how long jobs take (the first 10 % of a job, at
    /// most 200 ms, reads `INIT`, then `RUNNING`), the IMS quota and any faults.
    /// `DELETE /_sim/faults` puts it back.
    public var faults: FaultPlan
    /// Lifetime of issued tokens, in seconds (IAM: 24 h).
    public var tokenLifetimeSeconds: Int
    /// AK/SK pairs IMS accepts besides tokens; the project of a signed call is its
    /// `X-Project-Id` header.
    public var accessKeys: [AccessKey]

    /// Creates a configuration.
    /// - Parameters:
    ///   - users: IAM users.
    ///   - sharedImages: images shared with each member project.
    ///   - jobDuration: how long every job takes; ``faults`` holds it as a fixed distribution.
    ///   - tokenLifetimeSeconds: lifetime of issued tokens, in seconds.
    ///   - accessKeys: AK/SK pairs IMS accepts.
    ///   - wholeMachineImages: images that need `vault_id` to be accepted.
    public init(
        users: [User],
        sharedImages: [String: Set<String>],
        jobDuration: Duration = .seconds(2),
        tokenLifetimeSeconds: Int = 86_400,
        accessKeys: [AccessKey] = [],
        wholeMachineImages: Set<String> = []
    ) {
        self.users = users
        self.sharedImages = sharedImages
        self.wholeMachineImages = wholeMachineImages
        self.faults = FaultPlan(jobDuration: .fixed(jobDuration))
        self.tokenLifetimeSeconds = tokenLifetimeSeconds
        self.accessKeys = accessKeys
    }

    /// The catalogue of the demo and the README: the two images of the IMS doc example shared
    /// with project `edc89b490d7d4392898e19b2deb34797`, and one IAM user
    /// `demo-domain`/`demo-user` whose password is `password`.
    public static func demo(password: String, jobDuration: Duration = .seconds(2)) -> SimulatorConfiguration {
        SimulatorConfiguration(
            users: [User(domainName: "demo-domain", name: "demo-user", password: password)],
            sharedImages: [
                demoProjectID: ["d164b5df-1bc3-4c3f-893e-3e471fd16e64", "0b680482-acaa-4045-b14c-9a8c7dfe9c70"]
            ],
            jobDuration: jobDuration)
    }

    /// The member project of the demo catalogue.
    public static let demoProjectID = "edc89b490d7d4392898e19b2deb34797"
}
