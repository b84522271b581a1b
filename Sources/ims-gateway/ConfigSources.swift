import Configuration
import Foundation
import IMSGateway
import SystemPackage
import Yams

/// Builds the one `ConfigReader` of a command: flags first, then `IMSGW_*` environment
/// variables, then the optional YAML or JSON configuration file, then the defaults in code.
enum ConfigSources {
    /// Flags that would put a secret on the command line (and into `ps` and shell history).
    static let refusedFlags = ["--iam-password", "--aksk-secret-key", "--store-password"]

    /// Settings that must not come from the configuration file (it is often in a ConfigMap or
    /// under version control).
    static let secretKeys = ["iam.password", "aksk.secretKey", "store.password", "browserTokens.secret"]

    /// - Parameters:
    ///   - flags: declared options already parsed, by config key (strings).
    ///   - forwarded: further `--key value` flags, forwarded as they were typed.
    ///   - configFile: a YAML (or JSON) file with the same keys, nested (`ims: {url: ...}`), or nil.
    ///   - environment: the process environment (tests pass their own).
    /// - Throws: ``ConfigurationError`` for a secret given as a flag or in the file, or an
    ///   unreadable or malformed file.
    static func reader(
        flags: [String: String?],
        forwarded: [String],
        configFile: String?,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) async throws -> ConfigReader {
        for argument in forwarded {
            let name = argument.split(separator: "=", maxSplits: 1).first.map(String.init) ?? argument
            if refusedFlags.contains(name) {
                throw ConfigurationError(
                    "\(name) is not accepted: secrets come from the environment (IMSGW_IAM_PASSWORD, IMSGW_AKSK_SECRET_KEY, IMSGW_STORE_PASSWORD) or from files (IMSGW_IAM_PASSWORD_FILE, IMSGW_AKSK_SECRET_KEY_FILE, IMSGW_STORE_PASSWORD_FILE)")
            }
        }
        var values: [AbsoluteConfigKey: ConfigValue] = [:]
        for case let (key, value?) in flags {
            values[AbsoluteConfigKey(ConfigKey(key))] = ConfigValue(.string(value), isSecret: false)
        }
        let environmentProvider = EnvironmentVariablesProvider(
            environmentVariables: environment,
            secretsSpecifier: .specific(["IMSGW_IAM_PASSWORD", "IMSGW_AKSK_SECRET_KEY", "IMSGW_STORE_PASSWORD"]))
        var providers: [any ConfigProvider] = [
            InMemoryProvider(name: "flags", values: values),
            CommandLineArgumentsProvider(arguments: ["ims-gateway"] + forwarded),
            environmentProvider.prefixKeys(with: ["imsgw"]),
        ]
        try checkEnvironment(environment)
        if let configFile {
            try checkFileKeys(configFile)
            let file: FileProvider<YAMLSnapshot>
            do {
                file = try await FileProvider<YAMLSnapshot>(filePath: FilePath(configFile))
            } catch {
                throw ConfigurationError("setting configFile: cannot read \(configFile) as YAML or JSON: \(error)")
            }
            let fileOnly = ConfigReader(provider: file)
            for key in secretKeys where fileOnly.string(forKey: ConfigKey(key), isSecret: true) != nil {
                throw ConfigurationError(
                    "setting \(key) must not be in the configuration file \(configFile): use the environment or a secret file (\(key)File)")
            }
            providers.append(file)
        }
        return ConfigReader(providers: providers)
    }

    /// The command-line flag of a configuration key: `poll.initialMs` is `--poll-initial-ms`
    /// (the encoding of `CommandLineArgumentsProvider`).
    static func flag(for key: String) -> String {
        "--" + GatewayConfiguration.words(of: key).joined(separator: "-")
    }

    /// Checks forwarded flags against the keys the configuration actually read.
    /// - Throws: ``ConfigurationError`` naming a flag that is no setting, or one without a value.
    static func checkForwarded(_ forwarded: [String], usedKeys: Set<String>) throws(ConfigurationError) {
        let known = Set(usedKeys.map(flag(for:)))
        var index = 0
        while index < forwarded.count {
            let argument = forwarded[index]
            index += 1
            guard argument.hasPrefix("--") else {
                throw ConfigurationError("unexpected argument '\(argument)': settings are given as --name value")
            }
            let parts = argument.split(separator: "=", maxSplits: 1)
            let name = String(parts[0])
            guard known.contains(name) else {
                throw ConfigurationError(
                    "\(name) is not a setting (or is not used with these settings); see 'ims-gateway serve --help' and the README's configuration table")
            }
            if parts.count == 1 {
                guard index < forwarded.count, !forwarded[index].hasPrefix("--") else {
                    throw ConfigurationError("\(name) needs a value")
                }
                index += 1
            }
        }
    }

    /// `IMSGW_*` variables of other programs that share the prefix (the simulator's secret key),
    /// and in debug builds the crash point of the crash tests.
    static var otherVariables: Set<String> {
        #if DEBUG
        ["IMSGW_CONFIG_FILE", "IMSGW_SIM_SECRET_KEY", "IMSGW_DEBUG_CRASH_AT"]
        #else
        ["IMSGW_CONFIG_FILE", "IMSGW_SIM_SECRET_KEY"]
        #endif
    }

    /// Refuses an `IMSGW_*` variable that names no setting: a typo must not pass unnoticed.
    /// - Throws: ``ConfigurationError`` naming the variable.
    static func checkEnvironment(_ environment: [String: String]) throws(ConfigurationError) {
        let known = Set(GatewayConfiguration.knownKeys.map(GatewayConfiguration.environmentVariable(for:)))
            .union(otherVariables)
        for name in environment.keys.sorted() where name.hasPrefix("IMSGW_") && !known.contains(name) {
            throw ConfigurationError(
                "environment variable \(name) is not a setting; see the README's configuration table")
        }
    }

    /// Refuses a key of the configuration file that names no setting.
    /// - Throws: ``ConfigurationError`` naming the key, or for a file that is not YAML or JSON.
    static func checkFileKeys(_ path: String) throws(ConfigurationError) {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigurationError("setting configFile: cannot read \(path)")
        }
        let parsed: Any?
        do {
            parsed = try Yams.load(yaml: String(decoding: data, as: UTF8.self))
        } catch {
            throw ConfigurationError("setting configFile: \(path) is not YAML or JSON: \(error)")
        }
        guard let root = parsed as? [String: Any] else {
            if parsed == nil { return }
            throw ConfigurationError("setting configFile: \(path) must be a mapping of settings")
        }
        var unknown: [String] = []
        func walk(_ mapping: [String: Any], prefix: String) {
            for (name, value) in mapping {
                let key = prefix.isEmpty ? name : prefix + "." + name
                if let nested = value as? [String: Any], !GatewayConfiguration.knownKeys.contains(key) {
                    walk(nested, prefix: key)
                } else if !GatewayConfiguration.knownKeys.contains(key) {
                    unknown.append(key)
                }
            }
        }
        walk(root, prefix: "")
        if let first = unknown.sorted().first {
            throw ConfigurationError(
                "setting configFile: \(path) has '\(first)', which is not a setting; see the README's configuration table")
        }
    }
}
