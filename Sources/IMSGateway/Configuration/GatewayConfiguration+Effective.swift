import IMSClient

extension GatewayConfiguration {
    /// Every setting with the value in force, as `(key, value)` pairs in the keys of
    /// ``init(reader:)``; secrets (password, secret key) appear as `<redacted>`. For
    /// `serve --print-config`.
    public func effectiveSettings() -> [(key: String, value: String)] {
        var settings: [(String, String)] = [
            ("host", host), ("port", "\(port)"), ("ims.url", imsBaseURL),
            ("probe.projectId", probeProjectID ?? "<unset>"), ("probe.intervalSeconds", "\(readinessRecheckSeconds)"),
            ("credentials.mode", credentials.mode),
        ]
        switch credentials {
        case .password(let password):
            settings += [
                ("iam.url", iamBaseURL), ("iam.domain", password.domainName), ("iam.user", password.userName),
                ("iam.password", "<redacted>"), ("iam.refreshMarginSeconds", "\(tokenRefreshMarginSeconds)"),
            ]
        case .accessKey(let accessKey, _):
            settings += [("aksk.accessKey", accessKey), ("aksk.secretKey", "<redacted>")]
        case .temporaryAccessKeyFile(let path):
            settings += [("aksk.temporaryCredentialsFile", path)]
        }
        settings += [
            ("maxImagesPerRequest", "\(maxImagesPerRequest)"), ("maxImagesPerJob", "\(maxImagesPerJob)"),
            ("fanOutPerRequest", "\(fanOutPerRequest)"), ("maxUpstreamTransfers", "\(maxUpstreamTransfers)"),
            ("wait.defaultSeconds", "\(defaultWaitSeconds)"), ("wait.maxSeconds", "\(maxWaitSeconds)"),
            ("maxBodyBytes", "\(maxBodyBytes)"), ("maxCallersWaiting", "\(maxCallersWaiting)"), ("server.idleTimeoutSeconds", "\(idleTimeoutSeconds)"),
            ("poll.initialMs", "\(pollSchedule.initialDelay.wholeMilliseconds)"),
            ("poll.growth", "\(pollSchedule.growthFactor)"), ("poll.maxMs", "\(pollSchedule.maxDelay.wholeMilliseconds)"),
            ("poll.adaptive", "\(adaptivePolling)"),
            ("upstream.connectTimeoutMs", "\(upstreamConnectTimeoutMilliseconds)"),
            ("upstream.timeoutMs", "\(upstreamTimeoutMilliseconds)"),
            ("upstream.rate", "\(upstreamRate)"), ("upstream.burst", "\(upstreamBurst)"),
            ("upstream.maxPauseSeconds", "\(upstreamMaxPauseSeconds)"), ("submit.maxAttempts", "\(maxSubmitAttempts)"),
            ("ims.jobQuery", jobQuery.rawValue), ("tls.caBundle", caBundlePath ?? "<system>"),
            ("drain.timeoutSeconds", "\(drainTimeoutSeconds)"), ("wait.maxBackgroundSeconds", "\(maxBackgroundWaitSeconds)"),
            ("outcomes.maxPerClient", "\(outcomeMaxPerClient)"), ("store.url", storeURL),
            ("store.password", storePassword == nil ? "<unset>" : "<redacted>"), ("store.leaseSeconds", "\(storeLeaseSeconds)"),
            ("store.leaseRenewSeconds", "\(storeLeaseRenewSeconds)"), ("outcomes.ttlSeconds", "\(outcomeTTLSeconds)"),
            ("outcomes.reapIntervalSeconds", "\(outcomeReapIntervalSeconds)"),
            ("events.keepAliveSeconds", "\(eventsKeepAliveSeconds)"), ("events.maxStreamsPerClient", "\(eventsMaxStreamsPerClient)"),
            ("events.maxStreams", "\(eventsMaxStreams)"),
            ("cors.allowedOrigins", corsAllowedOrigins.isEmpty ? "<none: CORS off>" : corsAllowedOrigins.joined(separator: ",")),
            ("cors.maxAgeSeconds", "\(corsMaxAgeSeconds)"),
            ("browserTokens.secret", browserTokensSecret == nil ? "<unset: POST /browser-tokens off>" : "<redacted>"),
            ("browserTokens.maxTtlSeconds", "\(browserTokensMaxTTLSeconds)"),
            ("clients.defaultRate", "\(defaultClientRateLimit.rate)"), ("clients.defaultBurst", "\(defaultClientRateLimit.burst)"),
            ("clients.maxPendingRequests", "\(maxPendingRequestsPerClient)"),
        ]
        switch clientAuthentication {
        case .clients(let registry):
            settings += [("clients.file", registry.path ?? "<in memory>"), ("clients.count", "\(registry.clientCount)")]
        case .insecureNoAuth:
            settings += [("insecureNoAuth", "true")]
        }
        return settings
    }
}

/// A configuration described by its effective settings, secrets redacted: whatever logs or
/// prints one (ServiceLifecycle logs its services at debug level) never shows a password or
/// a key.
extension GatewayConfiguration: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public var description: String {
        "GatewayConfiguration(" + effectiveSettings().map { "\($0.key): \($0.value)" }.joined(separator: ", ") + ")"
    }

    public var debugDescription: String { description }

    public var customMirror: Mirror { Mirror(self, children: ["settings": description], displayStyle: .struct) }
}
