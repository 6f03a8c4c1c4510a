// Value types: snapshots copied out of library objects, safe to keep and to send anywhere.
import CVoxMessenger

// MARK: - Enumerations

/// The state of a client's connection (`VOX_STATE_*`).
public enum ConnectionState: Sendable, Hashable {
    case disconnected, connecting, connected, reconnecting, loggedIn, closed
    case unknown(Int32)

    init(cValue: Int32) {
        switch cValue {
        case VOX_STATE_DISCONNECTED: self = .disconnected
        case VOX_STATE_CONNECTING: self = .connecting
        case VOX_STATE_CONNECTED: self = .connected
        case VOX_STATE_RECONNECTING: self = .reconnecting
        case VOX_STATE_LOGGED_IN: self = .loggedIn
        case VOX_STATE_CLOSED: self = .closed
        default: self = .unknown(cValue)
        }
    }
}

/// A connection event (`vox_client_event`).
public struct ConnectionEvent: Sendable, Hashable {
    public enum Kind: Sendable, Hashable {
        case stateChanged, connectionFailed, reconnecting, reconnected, connectionClosed
        case unknown(Int32)
    }

    public let kind: Kind
    /// The client's state after the event.
    public let state: ConnectionState
    /// Why, for `connectionFailed` and `connectionClosed`.
    public let reason: String?

    init(_ e: vox_client_event) {
        switch e.kind {
        case VOX_CLIENT_EVENT_STATE_CHANGED: kind = .stateChanged
        case VOX_CLIENT_EVENT_CONNECTION_FAILED: kind = .connectionFailed
        case VOX_CLIENT_EVENT_RECONNECTING: kind = .reconnecting
        case VOX_CLIENT_EVENT_RECONNECTED: kind = .reconnected
        case VOX_CLIENT_EVENT_CONNECTION_CLOSED: kind = .connectionClosed
        default: kind = .unknown(e.kind)
        }
        state = ConnectionState(cValue: e.state)
        reason = e.reason.map { String(cString: $0) }
    }
}

/// The password digest of a login (`VOX_DIGEST_*`).
public enum Digest: Sendable {
    case md5, sha256

    var cValue: Int32 {
        switch self {
        case .md5: VOX_DIGEST_MD5
        case .sha256: VOX_DIGEST_SHA256
        }
    }
}

/// A push notification kind (`VOX_NOTIFICATION_*`).
public enum PushNotification: Sendable, Hashable {
    case sendMessage, editMessage, createConversation

    var cValue: Int32 {
        switch self {
        case .sendMessage: Int32(VOX_NOTIFICATION_SEND_MESSAGE)
        case .editMessage: Int32(VOX_NOTIFICATION_EDIT_MESSAGE)
        case .createConversation: Int32(VOX_NOTIFICATION_CREATE_CONVERSATION)
        }
    }
}

/// The type of a messenger event or operation result (`VOX_EVENT_*`).
public enum EventType: Sendable, Hashable {
    case createConversation, editConversation, editMessage, editUser, error, getConversation
    case getPublicConversations, getSubscriptions, getUser, read, removeConversation, removeMessage
    case retransmitEvents, sendMessage, setStatus, subscribe, typing, unsubscribe
    /// Results of client calls (never delivered to listeners).
    case login, oneTimeKey, tokens
    case unknown(Int32)

    /// Every type a listener can be registered for (`VOX_EVENT_*` 0–17).
    public static let listenable: [EventType] = [
        .createConversation, .editConversation, .editMessage, .editUser, .error, .getConversation,
        .getPublicConversations, .getSubscriptions, .getUser, .read, .removeConversation,
        .removeMessage, .retransmitEvents, .sendMessage, .setStatus, .subscribe, .typing, .unsubscribe,
    ]

    var cValue: Int32 {
        let value: Int32
        switch self {
        case .createConversation: value = VOX_EVENT_CREATE_CONVERSATION
        case .editConversation: value = VOX_EVENT_EDIT_CONVERSATION
        case .editMessage: value = VOX_EVENT_EDIT_MESSAGE
        case .editUser: value = VOX_EVENT_EDIT_USER
        case .error: value = VOX_EVENT_ERROR
        case .getConversation: value = VOX_EVENT_GET_CONVERSATION
        case .getPublicConversations: value = VOX_EVENT_GET_PUBLIC_CONVERSATIONS
        case .getSubscriptions: value = VOX_EVENT_GET_SUBSCRIPTIONS
        case .getUser: value = VOX_EVENT_GET_USER
        case .read: value = VOX_EVENT_READ
        case .removeConversation: value = VOX_EVENT_REMOVE_CONVERSATION
        case .removeMessage: value = VOX_EVENT_REMOVE_MESSAGE
        case .retransmitEvents: value = VOX_EVENT_RETRANSMIT_EVENTS
        case .sendMessage: value = VOX_EVENT_SEND_MESSAGE
        case .setStatus: value = VOX_EVENT_SET_STATUS
        case .subscribe: value = VOX_EVENT_SUBSCRIBE
        case .typing: value = VOX_EVENT_TYPING
        case .unsubscribe: value = VOX_EVENT_UNSUBSCRIBE
        case .login: value = VOX_EVENT_LOGIN
        case .oneTimeKey: value = VOX_EVENT_ONE_TIME_KEY
        case .tokens: value = VOX_EVENT_TOKENS
        case .unknown(let raw): return raw
        }
        return value
    }

    /// The bit of this type in a listener's event mask (`vox_messenger_on`).
    var maskBit: Int32 {
        let v = cValue
        return v >= 0 && v < 31 ? Int32(1) << v : -1  // -1: rejected by the library
    }

    init(cValue: Int32) {
        let known: [EventType] = EventType.listenable + [.login, .oneTimeKey, .tokens]
        self = known.first(where: { $0.cValue == cValue }) ?? .unknown(cValue)
    }
}

// MARK: - Users

/// A messenger user (a snapshot).
public struct User: Sendable, Hashable {
    /// `username@appname.accname`.
    public var name: String
    public var imId: UInt64
    public var displayName: String
    /// Public custom data, JSON object text.
    public var customData: String
    /// Private custom data, JSON object text: only the current user's carries it.
    public var privateCustomData: String?
    public var isDeleted: Bool
    /// Uuids of the conversations the user is in.
    public var conversations: [String]
    /// Uuids of the conversations the user left.
    public var leftConversations: [String]
    /// Push notifications subscribed to (wire names such as `"onSendMessage"`).
    public var notifications: [String]

    /// Copies a borrowed `vox_user*`.
    init(handle u: OpaquePointer) {
        name = readOptionalString { vox_user_name(u, $0) } ?? ""
        imId = readOptional(UInt64(0)) { vox_user_im_id(u, $0) } ?? 0
        displayName = readOptionalString { vox_user_display_name(u, $0) } ?? ""
        customData = readOptionalString { vox_user_custom_data(u, $0) } ?? "{}"
        privateCustomData = readOptionalString { vox_user_private_custom_data(u, $0) }
        isDeleted = readOptional(false) { vox_user_is_deleted(u, $0) } ?? false
        conversations = User.list(u, VOX_USER_CONVERSATIONS)
        leftConversations = User.list(u, VOX_USER_LEFT_CONVERSATIONS)
        notifications = User.list(u, VOX_USER_NOTIFICATIONS)
    }

    /// One of the lists of a borrowed `vox_user*` (`which`: a `VOX_USER_*` constant).
    private static func list(_ u: OpaquePointer, _ which: Int32) -> [String] {
        let count = readOptional(Int(0)) { vox_user_list_count(u, which, $0) } ?? 0
        return (0..<count).compactMap { index in readOptionalString { vox_user_list_at(u, which, index, $0) } }
    }
}

// MARK: - Conversations

/// A participant of a conversation and their permissions.
public struct Participant: Sendable, Hashable {
    public var imUserId: UInt64
    public var canWrite = false
    public var canEditMessages = false
    public var canEditAllMessages = false
    public var canRemoveMessages = false
    public var canRemoveAllMessages = false
    public var canManageParticipants = false
    public var isOwner = false
    /// Read-only (ignored when sent): the last sequence the participant marked as read.
    public var lastReadEventSequence: UInt64 = 0

    /// A participant with no permission set; for a new conversation the server then grants
    /// write, edit and remove.
    public init(imUserId: UInt64) { self.imUserId = imUserId }

    init(_ p: vox_participant) {
        imUserId = p.im_user_id
        canWrite = p.can_write
        canEditMessages = p.can_edit_messages
        canEditAllMessages = p.can_edit_all_messages
        canRemoveMessages = p.can_remove_messages
        canRemoveAllMessages = p.can_remove_all_messages
        canManageParticipants = p.can_manage_participants
        isOwner = p.owner
        lastReadEventSequence = p.last_read_event_sequence
    }

    var cValue: vox_participant {
        var p = vox_participant()
        p.im_user_id = imUserId
        p.can_write = canWrite
        p.can_edit_messages = canEditMessages
        p.can_edit_all_messages = canEditAllMessages
        p.can_remove_messages = canRemoveMessages
        p.can_remove_all_messages = canRemoveAllMessages
        p.can_manage_participants = canManageParticipants
        p.owner = isOwner
        p.last_read_event_sequence = lastReadEventSequence
        return p
    }
}

/// What a new (or recreated) conversation looks like (`vox_conversation_config`).
public struct ConversationConfig: Sendable, Hashable {
    public var participants: [Participant]
    public var title: String?
    public var isDirect: Bool
    public var isPublicJoin: Bool
    public var isUber: Bool
    /// Custom data, JSON object text.
    public var customData: String?

    public init(
        participants: [Participant] = [], title: String? = nil, isDirect: Bool = false,
        isPublicJoin: Bool = false, isUber: Bool = false, customData: String? = nil
    ) {
        self.participants = participants
        self.title = title
        self.isDirect = isDirect
        self.isPublicJoin = isPublicJoin
        self.isUber = isUber
        self.customData = customData
    }

    /// Calls `body` with a `vox_conversation_config` whose pointers live until `body` returns.
    func withCValue<R>(_ body: (UnsafePointer<vox_conversation_config>) -> R) -> R {
        let cParticipants = participants.map(\.cValue)
        return cParticipants.withUnsafeBufferPointer { buffer in
            withOptionalCString(title) { cTitle in
                withOptionalCString(customData) { cCustomData in
                    var c = vox_conversation_config()
                    c.participants = buffer.baseAddress
                    c.participant_count = buffer.count
                    c.title = cTitle
                    c.direct = isDirect
                    c.public_join = isPublicJoin
                    c.uber = isUber
                    c.custom_data_json = cCustomData
                    return withUnsafePointer(to: c) { body($0) }
                }
            }
        }
    }
}

/// A conversation's data (a snapshot).
public struct ConversationInfo: Sendable, Hashable {
    public var uuid: String
    public var title: String
    /// Custom data, JSON object text.
    public var customData: String
    public var isDirect: Bool
    public var isPublicJoin: Bool
    public var isUber: Bool
    /// UNIX seconds.
    public var createdTime: Int64
    /// UNIX seconds.
    public var lastUpdateTime: Int64
    public var lastSequence: UInt64
    public var participants: [Participant]

    /// Copies a borrowed `vox_conversation*`.
    init(handle c: OpaquePointer) {
        uuid = readOptionalString { vox_conversation_uuid(c, $0) } ?? ""
        title = readOptionalString { vox_conversation_title(c, $0) } ?? ""
        customData = readOptionalString { vox_conversation_custom_data(c, $0) } ?? "{}"
        isDirect = readOptional(false) { vox_conversation_is_direct(c, $0) } ?? false
        isPublicJoin = readOptional(false) { vox_conversation_is_public_join(c, $0) } ?? false
        isUber = readOptional(false) { vox_conversation_is_uber(c, $0) } ?? false
        createdTime = readOptional(Int64(0)) { vox_conversation_created_time(c, $0) } ?? 0
        lastUpdateTime = readOptional(Int64(0)) { vox_conversation_last_update_time(c, $0) } ?? 0
        lastSequence = readOptional(UInt64(0)) { vox_conversation_last_sequence(c, $0) } ?? 0
        let count = readOptional(Int(0)) { vox_conversation_participant_count(c, $0) } ?? 0
        participants = (0..<count).compactMap { index in
            let p = readOptional(vox_participant()) { vox_conversation_participant_at(c, index, $0) }
            return p.map { Participant($0) }
        }
    }
}

// MARK: - Messages

/// A message's data (a snapshot).
public struct MessageInfo: Sendable, Hashable {
    public var uuid: String
    public var conversationUUID: String
    public var text: String
    /// JSON text of an array of objects (`[]` when there is none).
    public var payload: String
    /// IM user id of the sender (0 for a recreated message).
    public var sender: UInt64
    public var sequence: UInt64

    /// Copies a borrowed `vox_message*`.
    init(handle m: OpaquePointer) {
        uuid = readOptionalString { vox_message_uuid(m, $0) } ?? ""
        conversationUUID = readOptionalString { vox_message_conversation(m, $0) } ?? ""
        text = readOptionalString { vox_message_text(m, $0) } ?? ""
        payload = readOptionalString { vox_message_payload(m, $0) } ?? "[]"
        sender = readOptional(UInt64(0)) { vox_message_sender(m, $0) } ?? 0
        sequence = readOptional(UInt64(0)) { vox_message_sequence(m, $0) } ?? 0
    }
}

// MARK: - Events

/// A messenger event, or the result of an operation: every field the event carries, copied.
/// Fields an event does not carry are nil (or empty).
public struct MessengerEvent: Sendable, Hashable {
    public var type: EventType
    /// The wire name of the action that caused it, e.g. `"sendMessage"`.
    public var action: String?
    /// The IM user id whose action caused it.
    public var initiator: UInt64?
    /// The conversation sequence (conversation, message, typing and read events).
    public var sequence: UInt64?
    /// The server's timestamp, UNIX seconds.
    public var timestamp: Int64?
    /// The conversation uuid (conversation, message, typing and read events).
    public var conversationUUID: String?
    /// User events (get user, edit user, push notification settings).
    public var user: User?
    /// Conversation events.
    public var conversation: ConversationInfo?
    /// Message events (send, edit, remove).
    public var message: MessageInfo?
    /// Set-status events.
    public var isOnline: Bool?
    /// Subscription events (subscribe, unsubscribe, get subscriptions).
    public var userIds: [UInt64]
    /// Get-public-conversations results.
    public var publicConversations: [String]
    /// List results (one event per item, in the order asked) and retransmit results (in
    /// sequence order).
    public var items: [MessengerEvent]
    /// The range of a retransmit result.
    public var retransmitFrom: UInt64?
    public var retransmitTo: UInt64?
    /// Error events (`.error`): the protocol's code and description.
    public var errorCode: Int32?
    public var errorDescription: String?

    /// Copies a borrowed `vox_event*`.
    init(event e: OpaquePointer) {
        let rawType = readOptional(Int32(0)) { vox_event_type(e, $0) }
        type = EventType(cValue: rawType ?? -1)
        action = readOptionalString { vox_event_action(e, $0) }
        initiator = readOptional(UInt64(0)) { vox_event_initiator(e, $0) }
        sequence = readOptional(UInt64(0)) { vox_event_sequence(e, $0) }
        timestamp = readOptional(Int64(0)) { vox_event_timestamp(e, $0) }
        conversationUUID = readOptionalString { vox_event_conversation_uuid(e, $0) }
        user = (try? readHandle { vox_event_user(e, $0) }).map { u in
            defer { _ = vox_user_free(u) }
            return User(handle: u)
        }
        conversation = (try? readHandle { vox_event_conversation(e, $0) }).map { c in
            defer { _ = vox_conversation_free(c) }
            return ConversationInfo(handle: c)
        }
        message = (try? readHandle { vox_event_message(e, $0) }).map { m in
            defer { _ = vox_message_free(m) }
            return MessageInfo(handle: m)
        }
        isOnline = readOptional(false) { vox_event_is_online(e, $0) }
        userIds = (try? eventUserIds(e)) ?? []
        let publicCount = readOptional(Int(0)) { vox_event_conversation_list_count(e, $0) } ?? 0
        publicConversations = (0..<publicCount).compactMap { index in
            readOptionalString { vox_event_conversation_list_at(e, index, $0) }
        }
        items = (try? eventItems(e) { MessengerEvent(event: $0) }) ?? []
        var from: UInt64 = 0
        var to: UInt64 = 0
        if vox_event_retransmit_range(e, &from, &to) == VOX_OK {
            retransmitFrom = from
            retransmitTo = to
        } else {
            retransmitFrom = nil
            retransmitTo = nil
        }
        errorCode = readOptional(Int32(0)) { vox_event_error_code(e, $0) }
        errorDescription = readOptionalString { vox_event_error_description(e, $0) }
    }
}

// MARK: - Login

/// The tokens of a login or token refresh (secrets: do not log them).
public struct Tokens: Sendable, Hashable {
    public var accessToken: String
    public var refreshToken: String
    /// `accessExpire` as the server sends it.
    public var accessExpire: UInt64
    /// `refreshExpire` as the server sends it.
    public var refreshExpire: UInt64

    /// The tokens of a borrowed login or token result; nil when the server issued none.
    init?(event e: OpaquePointer?) {
        guard let access = readOptionalString({ vox_event_access_token(e, $0) }),
              let refresh = readOptionalString({ vox_event_refresh_token(e, $0) })
        else { return nil }
        var accessExpire: UInt64 = 0
        var refreshExpire: UInt64 = 0
        _ = vox_event_token_expiry(e, &accessExpire, &refreshExpire)
        self.accessToken = access
        self.refreshToken = refresh
        self.accessExpire = accessExpire
        self.refreshExpire = refreshExpire
    }
}

/// The result of a login.
public struct LoginResult: Sendable, Hashable {
    public var displayName: String
    /// Present when the server issued tokens.
    public var tokens: Tokens?

    init(event e: OpaquePointer?) {
        displayName = readOptionalString { vox_event_display_name(e, $0) } ?? ""
        tokens = Tokens(event: e)
    }
}

/// Options of a login (`vox_login_options`).
public struct LoginOptions: Sendable, Hashable {
    /// `receiveCalls`; nil: not sent.
    public var receiveCalls: Bool?
    /// `deviceToken`, the push token of this device.
    public var deviceToken: String?

    public init(receiveCalls: Bool? = nil, deviceToken: String? = nil) {
        self.receiveCalls = receiveCalls
        self.deviceToken = deviceToken
    }
}

/// Calls `body` with a `vox_login_options*` (NULL for nil) that lives until `body` returns.
func withLoginOptions<R>(_ options: LoginOptions?, _ body: (UnsafePointer<vox_login_options>?) -> R) -> R {
    guard let options else { return body(nil) }
    return withOptionalCString(options.deviceToken) { token in
        var c = vox_login_options()
        c.receive_calls = options.receiveCalls.map { $0 ? Int32(1) : Int32(0) } ?? Int32(-1)
        c.device_token = token
        return withUnsafePointer(to: c) { body($0) }
    }
}
