import ArgumentParser
import Foundation
import IMSSimulator
import Logging
import ServiceLifecycle
import UnixSignals

/// `ims-gateway simulator`: runs the IAM + IMS simulator on its own.
struct SimulatorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulator",
        abstract: "Run the built-in IAM + IMS simulator (for trying the gateway without a cloud account).",
        discussion: """
            It knows one IAM user, demo-domain/demo-user, whose password is read from IMSGW_IAM_PASSWORD \
            (or the file named by IMSGW_IAM_PASSWORD_FILE). Without --share it shares the two images of the \
            IMS documentation example with project edc89b490d7d4392898e19b2deb34797. \
            With --access-key, IMS also accepts requests signed with that AK (SDK-HMAC-SHA256) and the \
            secret key read from IMSGW_SIM_SECRET_KEY; the project of a signed call is its X-Project-Id. \
            The IAM password is then optional. \
            Call counters: GET /_sim/stats; one job's times and polls: GET /_sim/jobs/JOB_ID; \
            faults while running: GET, PUT and DELETE /_sim/faults (JSON: job_duration, quota, calls, jobs; \
            the same JSON as --faults).
            """)

    @Option(help: "Address to listen on.") var host = "127.0.0.1"
    @Option(help: "Port to listen on.") var port = 9000
    @Option(name: .customLong("job-duration-ms"), help: "How long each job runs, in milliseconds.") var jobDurationMs = 2000
    @Option(
        name: .customLong("job-duration"),
        help: ArgumentHelp(
            """
            Job durations from a distribution (replaces --job-duration-ms): MS, fixed:MS, \
            uniform:MIN_MS,MAX_MS[,SEED] or lognormal:MEDIAN_MS,SIGMA[,SEED], e.g. lognormal:3000,0.5,42. \
            Same seed, same sequence of durations in job creation order.
            """, valueName: "spec"))
    var jobDuration: String?
    @Option(
        name: .customLong("quota"),
        help: ArgumentHelp(
            "IMS calls admitted per sliding window, e.g. 100/10; beyond it 429 APIGW.0308 (counted in /_sim/stats).",
            valueName: "calls/seconds"))
    var quota: String?
    @Option(
        name: .customLong("whole-machine-image"),
        help: ArgumentHelp(
            "A whole-machine (CBR) image: accepting it without vault_id makes the job FAIL (repeatable).",
            valueName: "image-id"))
    var wholeMachineImages: [String] = []
    @Option(
        name: .customLong("faults"),
        help: ArgumentHelp(
            "A JSON file with the start-up fault plan, in the body format of PUT /_sim/faults.", valueName: "file"))
    var faultsFile: String?
    @Option(name: .customLong("token-lifetime"), help: "Lifetime of issued IAM tokens, in seconds.") var tokenLifetime = 86_400
    @Option(
        name: .customLong("share"),
        help: "PROJECT_ID=IMAGE_ID[,IMAGE_ID...]: images shared with a project (repeatable; replaces the demo catalogue).")
    var shares: [String] = []
    @Option(
        name: .customLong("access-key"),
        help: "An access key (AK) IMS accepts in AK/SK-signed requests; its SK is read from IMSGW_SIM_SECRET_KEY.")
    var accessKey: String?

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be from 0 to 65535") }
        guard jobDurationMs >= 0 else { throw ValidationError("--job-duration-ms must not be negative") }
        guard tokenLifetime > 0 else { throw ValidationError("--token-lifetime must be positive") }
        if let accessKey, accessKey.isEmpty { throw ValidationError("--access-key must not be empty") }
        do {
            _ = try jobDuration.map { try JobDurationDistribution(parsing: $0) }
            _ = try quota.map { try Quota(parsing: $0) }
        } catch let error as SimulatorSettingError {
            throw ValidationError("\(error.message)")
        }
    }

    func run() async throws {
        let logger: Logger
        do {
            logger = try Logging.bootstrapped(
                level: ProcessInfo.processInfo.environment["IMSGW_LOG_LEVEL"],
                format: ProcessInfo.processInfo.environment["IMSGW_LOG_FORMAT"])
        } catch {
            throw CommandFailure.configuration("\(error)").exit()
        }
        var configuration: SimulatorConfiguration
        if let accessKey {
            let secretKey = try SimulatorCommand.secretKey()
            let password = try SimulatorCommand.optionalPassword()
            configuration = SimulatorConfiguration.demo(password: password ?? "", jobDuration: .milliseconds(jobDurationMs))
            if password == nil { configuration.users = [] }
            configuration.accessKeys = [.init(accessKey: accessKey, secretKey: secretKey)]
        } else {
            let password = try SimulatorCommand.password()
            configuration = SimulatorConfiguration.demo(password: password, jobDuration: .milliseconds(jobDurationMs))
        }
        configuration.tokenLifetimeSeconds = tokenLifetime
        if !shares.isEmpty {
            configuration.sharedImages = try Self.parseShares(shares)
        }
        configuration.wholeMachineImages = Set(wholeMachineImages.map { $0.trimmingCharacters(in: .whitespaces).lowercased() })
        configuration.faults = try startPlan(over: configuration.faults)
        let app = IMSSimulator.buildApplication(
            configuration: configuration, host: host, port: port, logger: logger
        ) { bound in
            logger.info("ims simulator listening", metadata: ["host": "\(host)", "port": "\(bound)"])
        }
        let group = ServiceGroup(configuration: .init(
            services: [app], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }

    /// The fault plan of `--job-duration`, `--quota` and `--faults` (the file's fields win).
    func startPlan(over base: FaultPlan) throws -> FaultPlan {
        var plan = base
        do {
            if let jobDuration { plan.jobDuration = try JobDurationDistribution(parsing: jobDuration) }
            if let quota { plan.quota = try Quota(parsing: quota) }
            if let faultsFile {
                guard let data = FileManager.default.contents(atPath: faultsFile) else {
                    throw ValidationError("--faults: cannot read the file \(faultsFile)")
                }
                plan = try FaultPlan(json: Array(data), over: plan)
            }
        } catch let error as SimulatorSettingError {
            throw ValidationError("\(faultsFile.map { "--faults \($0): " } ?? "")\(error.message)")
        }
        return plan
    }

    /// The SK of `--access-key`, from the environment only, so it never shows in `ps`.
    static func secretKey() throws -> String {
        guard let secretKey = ProcessInfo.processInfo.environment["IMSGW_SIM_SECRET_KEY"], !secretKey.isEmpty else {
            throw ValidationError("set IMSGW_SIM_SECRET_KEY: the secret key of --access-key")
        }
        return secretKey
    }

    static func password() throws -> String {
        guard let password = try optionalPassword() else {
            throw ValidationError("set IMSGW_IAM_PASSWORD (or IMSGW_IAM_PASSWORD_FILE): the password of the simulated IAM user")
        }
        return password
    }

    /// The simulated IAM user's password, or `nil` when neither variable is set.
    static func optionalPassword() throws -> String? {
        let environment = ProcessInfo.processInfo.environment
        if let path = environment["IMSGW_IAM_PASSWORD_FILE"] {
            guard let data = FileManager.default.contents(atPath: path) else {
                throw ValidationError("IMSGW_IAM_PASSWORD_FILE: cannot read the file \(path)")
            }
            return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        guard let password = environment["IMSGW_IAM_PASSWORD"], !password.isEmpty else { return nil }
        return password
    }

    static func parseShares(_ shares: [String]) throws -> [String: Set<String>] {
        var catalogue: [String: Set<String>] = [:]
        for share in shares {
            let parts = share.split(separator: "=", maxSplits: 1)
            guard parts.count == 2 else { throw ValidationError("--share '\(share)': expected PROJECT_ID=IMAGE_ID[,IMAGE_ID...]") }
            let images = parts[1].split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
            catalogue[String(parts[0]).lowercased(), default: []].formUnion(images)
        }
        return catalogue
    }
}
