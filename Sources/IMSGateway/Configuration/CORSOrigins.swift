import Foundation

/// The `cors.allowedOrigins` setting: exact origins (`scheme://host[:port]`, RFC 6454), comma
/// separated (docs/ARCHITECTURE.md, "Portals"). A browser sends its page's origin in exactly
/// that form, so anything else (a path, a trailing slash, a wildcard, `null`) could never
/// match and is refused at start.
enum CORSOrigins {
    /// - Throws: ``ConfigurationError`` naming the first origin that is not `scheme://host[:port]`.
    static func parse(_ setting: String) throws(ConfigurationError) -> [String] {
        var origins: [String] = []
        for part in setting.split(separator: ",") {
            let origin = part.trimmingCharacters(in: .whitespaces)
            guard !origin.isEmpty else { continue }
            guard let components = URLComponents(string: origin), let scheme = components.scheme?.lowercased(),
                scheme == "http" || scheme == "https", let host = components.host, !host.isEmpty,
                components.path.isEmpty, components.query == nil, components.fragment == nil, components.user == nil
            else {
                throw ConfigurationError(
                    "setting cors.allowedOrigins: \(InputExcerpt.of(origin)) is not an origin (scheme://host[:port], no path, no trailing slash)")
            }
            origins.append(origin)
        }
        return origins
    }
}
