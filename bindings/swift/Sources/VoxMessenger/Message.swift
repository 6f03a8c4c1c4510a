import CVoxMessenger

/// A message (`vox_message*`): a snapshot of its data plus the calls that act on it.
public final class Message: @unchecked Sendable {
    // @unchecked Sendable: immutable stored properties only; the handle is safe from any thread
    // (the header: every function, freeing included) and `client` is Sendable.
    let handle: OpaquePointer
    /// The client this message's calls go through (kept alive by it).
    public let client: Client

    init(handle: OpaquePointer, client: Client) {
        self.handle = handle
        self.client = client
    }

    deinit {
        _ = vox_message_free(handle)
    }

    /// A copy of the message's data.
    public var info: MessageInfo { MessageInfo(handle: handle) }

    /// Replaces the text and payload (JSON text of an array of objects, or nil).
    @discardableResult
    public func update(text: String, payload: String? = nil) async throws -> MessengerEvent {
        try await perform(client, { completion, op, error in
            withOptionalCString(payload) { cPayload in
                vox_message_update(self.handle, text, cPayload, completion, op, error)
            }
        }) { try eventValue($0) }
    }

    /// Removes the message.
    @discardableResult
    public func remove() async throws -> MessengerEvent {
        try await perform(client, { vox_message_remove(self.handle, $0, $1, $2) }) { try eventValue($0) }
    }

    /// A new object for the same message.
    public func copy() throws -> Message {
        let copy = try readHandle { vox_message_clone(handle, $0) }
        return Message(handle: copy, client: client)
    }
}
