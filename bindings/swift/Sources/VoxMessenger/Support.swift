// Plumbing between Swift and the C ABI: strings, out-parameters, completions, cancellation.
// Nothing here is public.
import CVoxMessenger
import Foundation

// MARK: - Strings

/// Copies a string the library returned and frees it with `vox_string_free` (exactly once).
func takeString(_ s: UnsafeMutablePointer<CChar>?) -> String? {
    guard let s else { return nil }
    defer { vox_string_free(s) }
    // vox_string_len is exact even when the text contains NUL characters.
    return String(decoding: UnsafeRawBufferPointer(start: s, count: vox_string_len(s)), as: UTF8.self)
}

/// Calls `body` with a NUL-terminated copy of `s`, or with NULL when `s` is nil.
func withOptionalCString<R>(_ s: String?, _ body: (UnsafePointer<CChar>?) throws -> R) rethrows -> R {
    guard let s else { return try body(nil) }
    return try s.withCString { try body($0) }
}

/// Calls `body` with a C array of NUL-terminated copies of `strings` (NULL when empty, which
/// the library accepts for a count of 0) and its count. The copies live until `body` returns.
func withCStringArray<R>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>?, Int) -> R) -> R {
    let copies: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
    defer { for copy in copies { free(copy) } }
    let pointers: [UnsafePointer<CChar>?] = copies.map { UnsafePointer($0) }
    return pointers.withUnsafeBufferPointer { body($0.baseAddress, $0.count) }
}

// MARK: - Statuses and out-parameters

/// Throws a `VoxError` unless `status` is `VOX_OK`.
func check(_ status: Int32) throws {
    if status != VOX_OK { throw VoxError(status: status) }
}

/// Runs a call with a `T *out` parameter; throws on a non-OK status.
func readValue<T>(_ initial: T, _ call: (UnsafeMutablePointer<T>) -> Int32) throws -> T {
    var out = initial
    try check(call(&out))
    return out
}

/// Runs a call with a `T *out` parameter; nil on any non-OK status (typically VOX_ERR_NO_VALUE:
/// the object has no such field).
func readOptional<T>(_ initial: T, _ call: (UnsafeMutablePointer<T>) -> Int32) -> T? {
    var out = initial
    return call(&out) == VOX_OK ? out : nil
}

/// Runs a call with a `char **out` parameter; the new string is copied and freed.
func readString(_ call: (UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> Int32) throws -> String {
    var out: UnsafeMutablePointer<CChar>? = nil
    try check(call(&out))
    return takeString(out) ?? ""
}

/// As `readString`, nil on any non-OK status.
func readOptionalString(_ call: (UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> Int32) -> String? {
    var out: UnsafeMutablePointer<CChar>? = nil
    guard call(&out) == VOX_OK else { return nil }
    return takeString(out)
}

/// Runs a call with a `vox_xxx **out` handle parameter; the caller owns (and frees) the result.
func readHandle(_ call: (UnsafeMutablePointer<OpaquePointer?>) -> Int32) throws -> OpaquePointer {
    var out: OpaquePointer? = nil
    try check(call(&out))
    guard let out else { throw VoxError(status: VOX_ERR_NO_VALUE) }
    return out
}

/// Runs a synchronous call ending with `vox_error **out_error`; throws the error it reports.
func callWithError(_ call: (UnsafeMutablePointer<OpaquePointer?>) -> Int32) throws {
    var error: OpaquePointer? = nil
    let status = call(&error)
    if status != VOX_OK { throw VoxError(status: status, taking: error) }
}

// MARK: - Asynchronous operations

/// What a `vox_completion` carries in `user_data`: retained once with `Unmanaged.passRetained`
/// before the starting call, released once by the completion's `release` (or by `perform` when
/// the starting call fails, since then the library calls nothing).
final class CompletionBox: Sendable {
    let run: @Sendable (_ status: Int32, _ error: OpaquePointer?, _ result: OpaquePointer?) -> Void
    init(_ run: @escaping @Sendable (Int32, OpaquePointer?, OpaquePointer?) -> Void) { self.run = run }
}

/// The cancellation state of one operation: `onCancel` and the starting code may run at the same
/// time on different threads.
final class CancelState: @unchecked Sendable {
    // @unchecked: the two mutable fields are only touched while holding `lock`.
    private let lock = NSLock()
    private var op: vox_op_id = 0
    private var cancelled = false

    /// Records the started operation; true when cancellation was requested before it started.
    func started(_ id: vox_op_id) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        op = id
        return cancelled
    }

    /// Records the cancellation; returns the operation to cancel (0 when not started yet).
    func cancel() -> vox_op_id {
        lock.lock()
        defer { lock.unlock() }
        cancelled = true
        return op
    }
}

/// The shape of every asynchronous C function, with its inputs already bound:
/// `(completion, out_op, out_error) -> status`.
typealias StartCall = (vox_completion, UnsafeMutablePointer<vox_op_id>, UnsafeMutablePointer<OpaquePointer?>) -> Int32

/// Starts an asynchronous C operation and awaits its completion.
///
/// - `start` calls the C function with the given completion and out-parameters.
/// - `transform` turns the borrowed result event (NULL for operations without a result) into a
///   Swift value; it runs on the library's callback thread, inside the completion, while the
///   event is still valid.
/// - Task cancellation calls `vox_cancel`; the operation then fails with
///   `VoxError.cancelled` (unless it completed first).
func perform<T: Sendable>(
    _ client: Client,
    _ start: StartCall,
    result transform: @escaping @Sendable (OpaquePointer?) throws -> T
) async throws -> T {
    let state = CancelState()
    return try await withTaskCancellationHandler {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            // The library calls `run` exactly once, then `release` exactly once.
            let box = CompletionBox { status, cError, result in
                guard status == VOX_OK else {
                    continuation.resume(throwing: VoxError(status: status, borrowing: cError))
                    return
                }
                do {
                    let value = try transform(result)
                    continuation.resume(returning: value)
                } catch {
                    continuation.resume(throwing: error)
                }
            }
            let userData = Unmanaged.passRetained(box)
            let completion = vox_completion(
                callback: { userData, status, cError, result in
                    guard let userData else { return }
                    Unmanaged<CompletionBox>.fromOpaque(userData).takeUnretainedValue().run(status, cError, result)
                },
                user_data: userData.toOpaque(),
                release: { userData in
                    guard let userData else { return }
                    Unmanaged<CompletionBox>.fromOpaque(userData).release()
                }
            )
            var op: vox_op_id = 0
            var startError: OpaquePointer? = nil
            let status = withUnsafeMutablePointer(to: &op) { opPointer in
                withUnsafeMutablePointer(to: &startError) { errorPointer in
                    start(completion, opPointer, errorPointer)
                }
            }
            guard status == VOX_OK else {
                // The library called nothing and keeps nothing: user_data is still ours.
                userData.release()
                continuation.resume(throwing: VoxError(status: status, taking: startError))
                return
            }
            if state.started(op) {
                _ = vox_cancel(client.handle, op)
            }
        }
    } onCancel: {
        let op = state.cancel()
        if op != 0 {
            _ = vox_cancel(client.handle, op)
        }
    }
}

// MARK: - Results

/// The items of a list or retransmit result (`vox_event_item_count` / `vox_event_item_at`),
/// each passed borrowed to `each` and freed afterwards.
func eventItems<T>(_ event: OpaquePointer?, _ each: (OpaquePointer) throws -> T) throws -> [T] {
    let count = try readValue(Int(0)) { vox_event_item_count(event, $0) }
    var items: [T] = []
    items.reserveCapacity(count)
    for index in 0..<count {
        let item = try readHandle { vox_event_item_at(event, index, $0) }
        defer { _ = vox_event_free(item) }
        items.append(try each(item))
    }
    return items
}

/// The user of a user event.
func eventUser(_ event: OpaquePointer?) throws -> User {
    let user = try readHandle { vox_event_user(event, $0) }
    defer { _ = vox_user_free(user) }
    return User(handle: user)
}

/// The conversation of a conversation event, as a new `Conversation` that owns its handle.
func eventConversation(_ event: OpaquePointer?, client: Client) throws -> Conversation {
    let handle = try readHandle { vox_event_conversation(event, $0) }
    return Conversation(handle: handle, client: client)
}

/// The message of a message event, as a new `Message` that owns its handle.
func eventMessage(_ event: OpaquePointer?, client: Client) throws -> Message {
    let handle = try readHandle { vox_event_message(event, $0) }
    return Message(handle: handle, client: client)
}

/// The IM user ids of a subscription event.
func eventUserIds(_ event: OpaquePointer?) throws -> [UInt64] {
    let count = try readValue(Int(0)) { vox_event_user_id_count(event, $0) }
    return try (0..<count).map { index in try readValue(UInt64(0)) { vox_event_user_id_at(event, index, $0) } }
}

/// A whole event, decoded (non-optional: an operation's result is always present on success).
func eventValue(_ event: OpaquePointer?) throws -> MessengerEvent {
    guard let event else { throw VoxError(status: VOX_ERR_NO_VALUE) }
    return MessengerEvent(event: event)
}
