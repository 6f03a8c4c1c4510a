import CVoxMessenger

/// One connection to a Voximplant-compatible server (`vox_client*`).
///
/// Releasing the last reference frees the client: it disconnects, pending operations fail with
/// `VoxError.connectionClosed`. `Messenger`, `Conversation` and `Message` objects keep their
/// client alive, and so does an active `connectionEvents()` stream.
public final class Client: @unchecked Sendable {
    // @unchecked Sendable: the only stored property is an immutable handle, and the header makes
    // every function taking a vox_client* safe from any thread (freeing included).
    let handle: OpaquePointer

    /// Settings of a client (`vox_client_config_*`).
    public struct Configuration: Sendable, Hashable {
        /// `ws://host:port`, `wss://host:port` or `host:port` (= wss); the first is tried first,
        /// the others are fallbacks in order.
        public var servers: [String]
        /// Trust only certificates chaining to these CA certificates (PEM text).
        public var customCA: String?
        /// Accept exactly this server certificate (PEM text or DER bytes).
        public var pinnedCertificate: [UInt8]?
        /// Every request fails with `VoxError.timeout` after this long; 0: the default (20 s).
        public var requestTimeoutMs: UInt64 = 0
        /// Opening a socket plus the handshake; 0: the default (10 s).
        public var connectTimeoutMs: UInt64 = 0
        /// Minimum spacing of messaging requests; nil: the default (220 ms, as the Web SDK).
        public var requestSpacingMs: UInt64?
        /// Delays before each reconnect attempt (empty: never reconnect); nil: the default.
        public var reconnectDelaysMs: [UInt64]?
        /// Randomises each reconnect delay by ± this many percent (0–100).
        public var reconnectJitterPercent: UInt32 = 0

        public init(server: String) { servers = [server] }
    }

    /// A new, disconnected client for one server.
    public convenience init(server: String) throws {
        try self.init(configuration: Configuration(server: server))
    }

    /// A new, disconnected client.
    public init(configuration: Configuration) throws {
        guard let first = configuration.servers.first else {
            throw VoxError(status: VoxError.invalidArgument, message: "no server")
        }
        let cfg = try readHandle { vox_client_config_new(first, $0) }
        defer { _ = vox_client_config_free(cfg) }
        for server in configuration.servers.dropFirst() {
            try check(vox_client_config_add_server(cfg, server))
        }
        if let ca = configuration.customCA {
            try check(vox_client_config_set_custom_ca(cfg, ca))
        }
        if let certificate = configuration.pinnedCertificate {
            try check(vox_client_config_set_pinned_certificate(cfg, certificate, certificate.count))
        }
        try check(vox_client_config_set_timeouts(cfg, configuration.requestTimeoutMs, configuration.connectTimeoutMs))
        if let spacing = configuration.requestSpacingMs {
            try check(vox_client_config_set_request_spacing(cfg, spacing))
        }
        if let delays = configuration.reconnectDelaysMs {
            try check(vox_client_config_set_reconnect(cfg, delays, delays.count, configuration.reconnectJitterPercent))
        }
        var client: OpaquePointer? = nil
        var error: OpaquePointer? = nil
        let status = vox_client_new(cfg, &client, &error)
        guard status == VOX_OK, let client else { throw VoxError(status: status, taking: error) }
        handle = client
    }

    deinit {
        _ = vox_client_free(handle)
    }

    /// The library's version, e.g. `"0.1.0"`.
    public static var libraryVersion: String { String(cString: vox_version()) }

    /// True when the loaded library implements the ABI of the header these bindings were built
    /// against.
    public static var isABICompatible: Bool { vox_abi_version() == Int32(VOX_ABI_VERSION) }

    /// Whether the calling thread is the library's callback thread (`vox_is_callback_thread`),
    /// where every completion, listener and release runs.
    public static var isCallbackThread: Bool { vox_is_callback_thread() }

    /// The number of live handles of the library (all types): a leak check for tests and debug
    /// builds. It returns to its previous value once every object using them is released.
    public static var debugLiveHandles: Int64 { vox_debug_live_handles() }

    /// The current connection state.
    public var state: ConnectionState {
        get throws {
            let state = try readValue(Int32(0)) { vox_client_state(handle, $0) }
            return ConnectionState(cValue: state)
        }
    }

    /// Connects to the first server that accepts; returns once the session is established.
    public func connect() async throws {
        try await perform(self, { vox_client_connect(self.handle, $0, $1, $2) }) { _ in }
    }

    /// Closes the session gracefully; pending operations fail with `VoxError.connectionClosed`.
    public func disconnect() async throws {
        try await perform(self, { vox_client_disconnect(self.handle, $0, $1, $2) }) { _ in }
    }

    /// A hint that the network changed: the session moves to a new socket at once.
    public func notifyNetworkChanged() throws {
        try check(vox_client_notify_network_changed(handle))
    }

    /// Logs in with a password (after `connect()`). `user` is
    /// `username@appname.accname[.voximplant.com]`; the password is hashed locally.
    public func login(
        user: String, password: String, digest: Digest = .md5, options: LoginOptions? = nil
    ) async throws -> LoginResult {
        try await perform(self, { completion, op, error in
            withLoginOptions(options) { cOptions in
                vox_client_login(self.handle, user, password, digest.cValue, cOptions, completion, op, error)
            }
        }) { LoginResult(event: $0) }
    }

    /// Logs in with an access token from an earlier login.
    public func login(user: String, accessToken: String, options: LoginOptions? = nil) async throws -> LoginResult {
        try await perform(self, { completion, op, error in
            withLoginOptions(options) { cOptions in
                vox_client_login_with_token(self.handle, user, accessToken, cOptions, completion, op, error)
            }
        }) { LoginResult(event: $0) }
    }

    /// Logs in with the hash of a one-time key (see `oneTimeKeyHash`).
    public func login(user: String, oneTimeKeyHash hash: String, options: LoginOptions? = nil) async throws -> LoginResult {
        try await perform(self, { completion, op, error in
            withLoginOptions(options) { cOptions in
                vox_client_login_with_one_time_key(self.handle, user, hash, cOptions, completion, op, error)
            }
        }) { LoginResult(event: $0) }
    }

    /// Asks the server for a one-time login key.
    public func requestOneTimeLoginKey(user: String) async throws -> String {
        try await perform(self, { vox_client_request_one_time_login_key(self.handle, user, $0, $1, $2) }) { event in
            try readString { vox_event_one_time_key(event, $0) }
        }
    }

    /// `md5(key + "|" + md5(login:voximplant.com:password))`, where `login` is the user name
    /// before `@` (usually computed by the application's backend).
    public static func oneTimeKeyHash(key: String, login: String, password: String) throws -> String {
        try readString { vox_one_time_key_hash(key, login, password, $0) }
    }

    /// Exchanges a refresh token for new tokens (while connected).
    public func refreshTokens(user: String, refreshToken: String, deviceToken: String? = nil) async throws -> Tokens {
        try await perform(self, { completion, op, error in
            withOptionalCString(deviceToken) { cDeviceToken in
                vox_client_token_refresh(self.handle, user, refreshToken, cDeviceToken, completion, op, error)
            }
        }) { event in
            guard let tokens = Tokens(event: event) else { throw VoxError(status: VoxError.noValue, message: "no tokens") }
            return tokens
        }
    }

    /// The messenger of this client (a new handle each call).
    public func messenger() throws -> Messenger {
        let messenger = try readHandle { vox_client_messenger(handle, $0) }
        return Messenger(handle: messenger, client: self)
    }

    /// Connection events (state changes, connect failures, reconnects, closes), from now on, in
    /// order. The listener is registered now and removed when the stream ends (the consuming
    /// task is cancelled or the stream is released).
    public func connectionEvents() throws -> AsyncStream<ConnectionEvent> {
        let (stream, continuation) = AsyncStream.makeStream(of: ConnectionEvent.self)
        let sink = ConnectionEventSink(continuation)
        let userData = Unmanaged.passRetained(sink)
        let listener = vox_client_listener(
            callback: { userData, event in
                guard let userData, let event else { return }
                let sink = Unmanaged<ConnectionEventSink>.fromOpaque(userData).takeUnretainedValue()
                sink.continuation.yield(ConnectionEvent(event.pointee))
            },
            user_data: userData.toOpaque(),
            release: { userData in
                guard let userData else { return }
                Unmanaged<ConnectionEventSink>.fromOpaque(userData).release()
            }
        )
        var id: vox_listener_id = 0
        let status = vox_client_on_event(handle, listener, &id)
        guard status == VOX_OK else {
            // Not registered: the library did not keep user_data.
            userData.release()
            throw VoxError(status: status)
        }
        // The closure keeps this client alive while the stream is active.
        let listenerId = id
        // (An id of 0 would remove every listener; the library never issues it.)
        continuation.onTermination = { _ in
            if listenerId != 0 { _ = vox_client_off_event(self.handle, listenerId) }
        }
        return stream
    }
}

/// The `user_data` of a connection listener: one retain per registration, released by the
/// listener's `release`; the stream finishes when the last one goes.
final class ConnectionEventSink: Sendable {
    let continuation: AsyncStream<ConnectionEvent>.Continuation
    init(_ continuation: AsyncStream<ConnectionEvent>.Continuation) { self.continuation = continuation }
    deinit { continuation.finish() }
}
