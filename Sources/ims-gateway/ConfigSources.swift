import Configuration
import Foundation
import IMSGateway

/// Builds the one `ConfigReader` of a command: flags first, then `IMSGW_*` environment
/// variables, then the defaults in code.
enum ConfigSources {
    /// Flags that would put a secret on the command line (and into `ps` and shell history).
    static let refusedFlags = ["--iam-password", "--aksk-secret-key"]

    /// - Parameters:
    ///   - flags: declared options already parsed, by config key (strings).
    ///   - forwarded: further `--key value` flags, forwarded as they were typed.
    ///   - environment: the process environment (tests pass their own).
    /// - Throws: ``ConfigurationError`` for a secret given as a flag.
    static func reader(
        flags: [String: String?],
        forwarded: [String],
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws -> ConfigReader {
        for argument in forwarded {
            let name = argument.split(separator: "=", maxSplits: 1).first.map(String.init) ?? argument
            if refusedFlags.contains(name) {
                throw ConfigurationError(
                    "\(name) is not accepted: secrets come from the environment (IMSGW_IAM_PASSWORD, IMSGW_AKSK_SECRET_KEY) or from files (IMSGW_IAM_PASSWORD_FILE, IMSGW_AKSK_SECRET_KEY_FILE)")
            }
        }
        var values: [AbsoluteConfigKey: ConfigValue] = [:]
        for case let (key, value?) in flags {
            values[AbsoluteConfigKey(ConfigKey(key))] = ConfigValue(.string(value), isSecret: false)
        }
        let environmentProvider = EnvironmentVariablesProvider(
            environmentVariables: environment,
            secretsSpecifier: .specific(["IMSGW_IAM_PASSWORD", "IMSGW_AKSK_SECRET_KEY"]))
        return ConfigReader(providers: [
            InMemoryProvider(name: "flags", values: values),
            CommandLineArgumentsProvider(arguments: ["ims-gateway"] + forwarded),
            environmentProvider.prefixKeys(with: ["imsgw"]),
        ])
    }
}
