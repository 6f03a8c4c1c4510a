import CVoxMessenger

/// The messenger of a client (`vox_messenger*`): users, subscriptions, conversations, events.
public final class Messenger: @unchecked Sendable {
    // @unchecked Sendable: immutable stored properties only; the handle is thread-safe (the
    // library locks its objects; every function is safe from any thread) and `client` is Sendable.
    let handle: OpaquePointer
    /// The client this messenger belongs to (kept alive by it).
    public let client: Client

    init(handle: OpaquePointer, client: Client) {
        self.handle = handle
        self.client = client
    }

    deinit {
        _ = vox_messenger_free(handle)
    }

    /// The logged-in user with every field (name, IM id, display name, custom data, lists),
    /// without a network call: the library fetched it at login and keeps it up to date
    /// (`VoxError.noValue` before login).
    public var me: User {
        get throws {
            let u = try readHandle { vox_messenger_get_me(handle, $0) }
            defer { _ = vox_user_free(u) }
            return User(handle: u)
        }
    }

    // MARK: Users

    /// A user by `username@appname.accname`.
    public func user(named name: String) async throws -> User {
        try await perform(client, { vox_messenger_get_user_by_name(self.handle, name, $0, $1, $2) }) { try eventUser($0) }
    }

    /// A user by IM id.
    public func user(imId: UInt64) async throws -> User {
        try await perform(client, { vox_messenger_get_user_by_im_id(self.handle, imId, $0, $1, $2) }) { try eventUser($0) }
    }

    /// Up to 50 users by name, in the order asked.
    public func users(named names: [String]) async throws -> [User] {
        try await perform(client, { completion, op, error in
            withCStringArray(names) { cNames, count in
                vox_messenger_get_users_by_name(self.handle, cNames, count, completion, op, error)
            }
        }) { event in try eventItems(event) { try eventUser($0) } }
    }

    /// Up to 50 users by IM id, in the order asked.
    public func users(imIds ids: [UInt64]) async throws -> [User] {
        try await perform(client, { vox_messenger_get_users_by_im_id(self.handle, ids, ids.count, $0, $1, $2) }) { event in
            try eventItems(event) { try eventUser($0) }
        }
    }

    /// Edits the current user's custom data (JSON object text; nil leaves a field unchanged,
    /// `"{}"` clears it; give at least one). Returns the user as edited.
    public func editUser(customData: String? = nil, privateCustomData: String? = nil) async throws -> User {
        try await perform(client, { completion, op, error in
            withOptionalCString(customData) { cCustom in
                withOptionalCString(privateCustomData) { cPrivate in
                    vox_messenger_edit_user(self.handle, cCustom, cPrivate, completion, op, error)
                }
            }
        }) { try eventUser($0) }
    }

    /// Sets the current user's presence.
    @discardableResult
    public func setStatus(online: Bool) async throws -> MessengerEvent {
        try await perform(client, { vox_messenger_set_status(self.handle, online, $0, $1, $2) }) { try eventValue($0) }
    }

    /// Subscribes to the presence and user edits of these users; returns the ids subscribed.
    @discardableResult
    public func subscribe(_ ids: [UInt64]) async throws -> [UInt64] {
        try await perform(client, { vox_messenger_subscribe(self.handle, ids, ids.count, $0, $1, $2) }) { try eventUserIds($0) }
    }

    /// Unsubscribes from these users; returns the ids unsubscribed.
    @discardableResult
    public func unsubscribe(_ ids: [UInt64]) async throws -> [UInt64] {
        try await perform(client, { vox_messenger_unsubscribe(self.handle, ids, ids.count, $0, $1, $2) }) { try eventUserIds($0) }
    }

    /// Unsubscribes from everyone; returns the ids unsubscribed.
    @discardableResult
    public func unsubscribeFromAll() async throws -> [UInt64] {
        try await perform(client, { vox_messenger_unsubscribe_from_all(self.handle, $0, $1, $2) }) { try eventUserIds($0) }
    }

    /// The IM ids of the users the current user is subscribed to.
    public func subscriptions() async throws -> [UInt64] {
        try await perform(client, { vox_messenger_get_subscriptions(self.handle, $0, $1, $2) }) { try eventUserIds($0) }
    }

    /// Chooses which events reach this user as push notifications (empty: none).
    @discardableResult
    public func managePushNotifications(_ kinds: [PushNotification]) async throws -> User {
        let cKinds = kinds.map(\.cValue)
        return try await perform(client, { vox_messenger_manage_push_notifications(self.handle, cKinds, cKinds.count, $0, $1, $2) }) {
            try eventUser($0)
        }
    }

    // MARK: Conversations

    /// Creates a conversation (participants without any permission get write, edit and remove).
    public func createConversation(_ config: ConversationConfig) async throws -> Conversation {
        let client = self.client
        return try await perform(client, { completion, op, error in
            config.withCValue { vox_messenger_create_conversation(self.handle, $0, completion, op, error) }
        }) { try eventConversation($0, client: client) }
    }

    /// A conversation by uuid.
    public func conversation(uuid: String) async throws -> Conversation {
        let client = self.client
        return try await perform(client, { vox_messenger_get_conversation(self.handle, uuid, $0, $1, $2) }) {
            try eventConversation($0, client: client)
        }
    }

    /// Up to 30 conversations by uuid, in the order asked.
    public func conversations(uuids: [String]) async throws -> [Conversation] {
        let client = self.client
        return try await perform(client, { completion, op, error in
            withCStringArray(uuids) { cUuids, count in
                vox_messenger_get_conversations(self.handle, cUuids, count, completion, op, error)
            }
        }) { event in try eventItems(event) { try eventConversation($0, client: client) } }
    }

    /// The uuids of every public conversation.
    public func publicConversations() async throws -> [String] {
        try await perform(client, { vox_messenger_get_public_conversations(self.handle, $0, $1, $2) }) { event in
            let count = try readValue(Int(0)) { vox_event_conversation_list_count(event, $0) }
            return try (0..<count).map { index in try readString { vox_event_conversation_list_at(event, index, $0) } }
        }
    }

    /// Joins a public conversation.
    @discardableResult
    public func joinConversation(uuid: String) async throws -> MessengerEvent {
        try await perform(client, { vox_messenger_join_conversation(self.handle, uuid, $0, $1, $2) }) { try eventValue($0) }
    }

    /// Leaves a conversation.
    @discardableResult
    public func leaveConversation(uuid: String) async throws -> MessengerEvent {
        try await perform(client, { vox_messenger_leave_conversation(self.handle, uuid, $0, $1, $2) }) { try eventValue($0) }
    }

    /// A conversation object from values cached earlier (no network). A uuid alone (default
    /// config, zeros) is enough to send messages to it.
    public func recreateConversation(
        uuid: String, config: ConversationConfig = ConversationConfig(),
        lastSequence: UInt64 = 0, lastUpdateTime: Int64 = 0, createdTime: Int64 = 0
    ) throws -> Conversation {
        var conversation: OpaquePointer? = nil
        try callWithError { error in
            config.withCValue { cConfig in
                vox_messenger_recreate_conversation(
                    handle, cConfig, uuid, lastSequence, lastUpdateTime, createdTime, &conversation, error)
            }
        }
        guard let conversation else { throw VoxError(status: VoxError.noValue) }
        return Conversation(handle: conversation, client: client)
    }

    /// A message object from values cached earlier (no network). `payload`: JSON text of an
    /// array of objects, or nil.
    public func recreateMessage(
        uuid: String, conversationUUID: String, text: String, payload: String? = nil, sequence: UInt64
    ) throws -> Message {
        var message: OpaquePointer? = nil
        try callWithError { error in
            withOptionalCString(payload) { cPayload in
                vox_messenger_recreate_message(
                    handle, uuid, conversationUUID, text, cPayload, sequence, &message, error)
            }
        }
        guard let message else { throw VoxError(status: VoxError.noValue) }
        return Message(handle: message, client: client)
    }

    // MARK: Events

    /// Messenger events of these types (default: all), from now on, in server order — including
    /// the echoes of this client's own requests. One listener is registered now for every type
    /// (an event mask) and removed when the stream ends (the consuming task is cancelled or the
    /// stream is released). An active stream keeps this messenger and its client alive.
    public func events(_ types: [EventType] = EventType.listenable) throws -> AsyncStream<MessengerEvent> {
        let (stream, continuation) = AsyncStream.makeStream(of: MessengerEvent.self)
        let sink = MessengerEventSink(continuation)
        let mask = types.reduce(Int32(0)) { $0 | $1.maskBit }
        let userData = Unmanaged.passRetained(sink)  // released by the listener's `release`
        let listener = vox_listener(
            callback: { userData, event in
                guard let userData, let event else { return }
                let sink = Unmanaged<MessengerEventSink>.fromOpaque(userData).takeUnretainedValue()
                sink.continuation.yield(MessengerEvent(event: event))
            },
            user_data: userData.toOpaque(),
            release: { userData in
                guard let userData else { return }
                Unmanaged<MessengerEventSink>.fromOpaque(userData).release()
            }
        )
        var id: vox_listener_id = 0
        let status = vox_messenger_on(handle, mask, listener, &id)
        guard status == VOX_OK else {
            userData.release()  // not registered: the library did not keep user_data
            throw VoxError(status: status)
        }
        let listenerId = id
        // The closure keeps this messenger (and its client) alive while the stream is active.
        // (An id of 0 would remove every listener; the library never issues it.)
        continuation.onTermination = { _ in
            if listenerId != 0 { _ = vox_messenger_off(self.handle, listenerId) }
        }
        return stream
    }
}

/// The `user_data` of a messenger listener: retained once for the registration and released by
/// the listener's `release`; the stream finishes when it goes.
final class MessengerEventSink: Sendable {
    let continuation: AsyncStream<MessengerEvent>.Continuation
    init(_ continuation: AsyncStream<MessengerEvent>.Continuation) { self.continuation = continuation }
    deinit { continuation.finish() }
}
