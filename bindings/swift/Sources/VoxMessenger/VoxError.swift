import CVoxMessenger

/// An error of the library: a `VOX_ERR_*` status, the protocol's or SDK's numeric code (0 for
/// errors of the C layer), and an English message (never containing passwords or tokens).
public struct VoxError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A `VOX_ERR_*` status, e.g. `VoxError.messenger` (400) or `VoxError.cancelled` (600).
    public let status: Int32
    /// For `messenger` the protocol's error number (8 = no such conversation, …); for
    /// `loginFailed` the `loginFailed` code (401 wrong password, 404 invalid user name, …);
    /// 10000–10004 for the SDKs' client-side rejections; 0 for errors of the C layer.
    public let code: Int32
    public let message: String

    public init(status: Int32, code: Int32 = 0, message: String? = nil) {
        self.status = status
        self.code = code
        self.message = message ?? VoxError.describe(status)
    }

    /// From an error object the library lends (the completion's `error` argument).
    init(status: Int32, borrowing error: OpaquePointer?) {
        guard let error else {
            self.init(status: status)
            return
        }
        let ownStatus = vox_error_status(error)
        self.init(
            status: ownStatus != 0 ? ownStatus : status,
            code: vox_error_code(error),
            message: takeString(vox_error_message(error))
        )
    }

    /// From an error object the caller owns (an `out_error`); frees it.
    init(status: Int32, taking error: OpaquePointer?) {
        self.init(status: status, borrowing: error)
        if let error { _ = vox_error_free(error) }
    }

    public var description: String { "VoxError \(status) (code \(code)): \(message)" }

    /// The operation was cancelled (task cancellation calls `vox_cancel`).
    public var isCancelled: Bool { status == VoxError.cancelled }

    // The statuses (the header's VOX_ERR_* values).
    public static let nullArgument: Int32 = VOX_ERR_NULL_ARGUMENT
    public static let invalidUTF8: Int32 = VOX_ERR_INVALID_UTF8
    public static let invalidJSON: Int32 = VOX_ERR_INVALID_JSON
    public static let invalidArgument: Int32 = VOX_ERR_INVALID_ARGUMENT
    public static let invalidHandle: Int32 = VOX_ERR_INVALID_HANDLE
    public static let wrongHandleType: Int32 = VOX_ERR_WRONG_HANDLE_TYPE
    public static let outOfRange: Int32 = VOX_ERR_OUT_OF_RANGE
    public static let noValue: Int32 = VOX_ERR_NO_VALUE
    public static let invalidState: Int32 = VOX_ERR_INVALID_STATE
    public static let notLoggedIn: Int32 = VOX_ERR_NOT_LOGGED_IN
    public static let callDiscarded: Int32 = VOX_ERR_CALL_DISCARDED
    public static let connectionFailed: Int32 = VOX_ERR_CONNECTION_FAILED
    public static let tls: Int32 = VOX_ERR_TLS
    public static let connectionClosed: Int32 = VOX_ERR_CONNECTION_CLOSED
    public static let protocolError: Int32 = VOX_ERR_PROTOCOL
    public static let messenger: Int32 = VOX_ERR_MESSENGER
    public static let loginFailed: Int32 = VOX_ERR_LOGIN_FAILED
    public static let timeout: Int32 = VOX_ERR_TIMEOUT
    public static let cancelled: Int32 = VOX_ERR_CANCELLED
    public static let `internal`: Int32 = VOX_ERR_INTERNAL

    static func describe(_ status: Int32) -> String {
        switch status {
        case VOX_ERR_NULL_ARGUMENT: "a required argument was NULL"
        case VOX_ERR_INVALID_UTF8: "a string was not valid UTF-8"
        case VOX_ERR_INVALID_JSON: "invalid JSON"
        case VOX_ERR_INVALID_ARGUMENT: "invalid argument"
        case VOX_ERR_INVALID_HANDLE: "invalid handle"
        case VOX_ERR_WRONG_HANDLE_TYPE: "wrong handle type"
        case VOX_ERR_OUT_OF_RANGE: "index out of range"
        case VOX_ERR_NO_VALUE: "no value"
        case VOX_ERR_INVALID_STATE: "invalid state"
        case VOX_ERR_NOT_LOGGED_IN: "not logged in"
        case VOX_ERR_CALL_DISCARDED: "call discarded"
        case VOX_ERR_CONNECTION_FAILED: "connection failed"
        case VOX_ERR_TLS: "TLS configuration error"
        case VOX_ERR_CONNECTION_CLOSED: "connection closed"
        case VOX_ERR_PROTOCOL: "protocol error"
        case VOX_ERR_MESSENGER: "the messenger service refused"
        case VOX_ERR_LOGIN_FAILED: "login failed"
        case VOX_ERR_TIMEOUT: "timeout"
        case VOX_ERR_CANCELLED: "cancelled"
        case VOX_ERR_INTERNAL: "internal error"
        default: "status \(status)"
        }
    }
}
