import CVoxMessenger

/// A conversation (`vox_conversation*`): a snapshot of its data plus the calls that act on it.
/// The setters change only this object's copy; `update()` sends it.
public final class Conversation: @unchecked Sendable {
    // @unchecked Sendable: immutable stored properties only; the library guards each
    // conversation handle with a lock and makes every function safe from any thread.
    let handle: OpaquePointer
    /// The client this conversation's calls go through (kept alive by it).
    public let client: Client

    init(handle: OpaquePointer, client: Client) {
        self.handle = handle
        self.client = client
    }

    deinit {
        _ = vox_conversation_free(handle)
    }

    /// A copy of the data of this object (including changes made by the setters).
    public var info: ConversationInfo { ConversationInfo(handle: handle) }

    /// The conversation's uuid.
    public var uuid: String { (try? readString { vox_conversation_uuid(handle, $0) }) ?? "" }

    /// Sets the title of this object's copy (sent by `update()`).
    public func setTitle(_ title: String) throws {
        try check(vox_conversation_set_title(handle, title))
    }

    /// Sets public join on this object's copy (sent by `update()`).
    public func setPublicJoin(_ publicJoin: Bool) throws {
        try check(vox_conversation_set_public_join(handle, publicJoin))
    }

    /// Sets the custom data (JSON object text) of this object's copy (sent by `update()`).
    public func setCustomData(_ json: String) throws {
        try callWithError { vox_conversation_set_custom_data(handle, json, $0) }
    }

    /// Sends the title, public join and custom data of this object.
    @discardableResult
    public func update() async throws -> MessengerEvent {
        try await perform(client, { vox_conversation_update(self.handle, $0, $1, $2) }) { try eventValue($0) }
    }

    /// Adds participants.
    @discardableResult
    public func addParticipants(_ participants: [Participant]) async throws -> MessengerEvent {
        let cParticipants = participants.map(\.cValue)
        return try await perform(client, {
            vox_conversation_add_participants(self.handle, cParticipants, cParticipants.count, $0, $1, $2)
        }) { try eventValue($0) }
    }

    /// Changes participants' permissions.
    @discardableResult
    public func editParticipants(_ participants: [Participant]) async throws -> MessengerEvent {
        let cParticipants = participants.map(\.cValue)
        return try await perform(client, {
            vox_conversation_edit_participants(self.handle, cParticipants, cParticipants.count, $0, $1, $2)
        }) { try eventValue($0) }
    }

    /// Removes participants by IM user id.
    @discardableResult
    public func removeParticipants(imUserIds: [UInt64]) async throws -> MessengerEvent {
        let cParticipants = imUserIds.map { Participant(imUserId: $0).cValue }
        return try await perform(client, {
            vox_conversation_remove_participants(self.handle, cParticipants, cParticipants.count, $0, $1, $2)
        }) { try eventValue($0) }
    }

    /// Tells the participants the user is typing. Within 10 s of the last call it fails with
    /// `VoxError.callDiscarded` and sends nothing.
    @discardableResult
    public func typing() async throws -> MessengerEvent {
        try await perform(client, { vox_conversation_typing(self.handle, $0, $1, $2) }) { try eventValue($0) }
    }

    /// Sends a message: `text` (up to 5000 characters) and `payload` (JSON text of an array of
    /// objects, or nil). Returns the message as the server stored it.
    @discardableResult
    public func send(text: String, payload: String? = nil) async throws -> Message {
        let client = self.client
        return try await perform(client, { completion, op, error in
            withOptionalCString(payload) { cPayload in
                vox_conversation_send_message(self.handle, text, cPayload, completion, op, error)
            }
        }) { try eventMessage($0, client: client) }
    }

    /// Marks events up to `sequence` as read.
    @discardableResult
    public func markAsRead(upTo sequence: UInt64) async throws -> MessengerEvent {
        try await perform(client, { vox_conversation_mark_as_read(self.handle, sequence, $0, $1, $2) }) { try eventValue($0) }
    }

    /// The events `from...to` (at most 100): the result's `items`, in sequence order.
    public func retransmitEvents(from: UInt64, to: UInt64) async throws -> MessengerEvent {
        try await perform(client, { vox_conversation_retransmit_events(self.handle, from, to, $0, $1, $2) }) { try eventValue($0) }
    }

    /// Up to `count` (≤ 100) events from `from` on.
    public func retransmitEvents(from: UInt64, count: UInt64) async throws -> MessengerEvent {
        try await perform(client, { vox_conversation_retransmit_events_from(self.handle, from, count, $0, $1, $2) }) {
            try eventValue($0)
        }
    }

    /// Up to `count` (≤ 100) events up to `to`.
    public func retransmitEvents(to: UInt64, count: UInt64) async throws -> MessengerEvent {
        try await perform(client, { vox_conversation_retransmit_events_to(self.handle, to, count, $0, $1, $2) }) {
            try eventValue($0)
        }
    }

    /// A new object with a copy of this conversation's data (its setters do not affect this one).
    public func copy() throws -> Conversation {
        let copy = try readHandle { vox_conversation_clone(handle, $0) }
        return Conversation(handle: copy, client: client)
    }
}
