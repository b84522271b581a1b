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

    /// IAM users accepted by `POST /v3/auth/tokens`.
    public var users: [User]
    /// The catalogue: for each member project (32 lower-case hex), the image IDs shared with
    /// it. A job naming any other image ends FAIL.
    public var sharedImages: [String: Set<String>]
    /// How long a job takes from submit to SUCCESS/FAIL. The first 10 % (at most 200 ms) it
    /// reads `INIT`, then `RUNNING`.
    public var jobDuration: Duration
    /// Lifetime of issued tokens, in seconds (IAM: 24 h).
    public var tokenLifetimeSeconds: Int

    /// Creates a configuration.
    public init(
        users: [User],
        sharedImages: [String: Set<String>],
        jobDuration: Duration = .seconds(2),
        tokenLifetimeSeconds: Int = 86_400
    ) {
        self.users = users
        self.sharedImages = sharedImages
        self.jobDuration = jobDuration
        self.tokenLifetimeSeconds = tokenLifetimeSeconds
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
