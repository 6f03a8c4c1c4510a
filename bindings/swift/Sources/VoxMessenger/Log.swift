import CVoxMessenger

/// The library's log records (`vox_set_log_callback`). Passwords, digests and tokens are never
/// logged.
public enum VoxLog {
    public enum Level: Sendable, Hashable, Comparable {
        case error, warn, info, debug, trace

        var cValue: Int32 {
            switch self {
            case .error: VOX_LOG_ERROR
            case .warn: VOX_LOG_WARN
            case .info: VOX_LOG_INFO
            case .debug: VOX_LOG_DEBUG
            case .trace: VOX_LOG_TRACE
            }
        }

        init(cValue: Int32) {
            switch cValue {
            case VOX_LOG_ERROR: self = .error
            case VOX_LOG_WARN: self = .warn
            case VOX_LOG_INFO: self = .info
            case VOX_LOG_DEBUG: self = .debug
            default: self = .trace
            }
        }
    }

    /// Sends records at `level` and more severe to `handler(level, target, message)`. The handler
    /// runs on whichever library thread logs, possibly on several at once: keep it quick. A later
    /// call replaces it; the library releases the previous handler (its `release` function)
    /// once no call of it is in progress.
    public static func setHandler(
        level: Level, _ handler: @escaping @Sendable (Level, String, String) -> Void
    ) throws {
        let box = Unmanaged.passRetained(LogBox(handler))
        let status = vox_set_log_callback(level.cValue, { userData, level, target, message in
            guard let userData else { return }
            let box = Unmanaged<LogBox>.fromOpaque(userData).takeUnretainedValue()
            box.handler(
                Level(cValue: level),
                target.map { String(cString: $0) } ?? "",
                message.map { String(cString: $0) } ?? "")
        }, box.toOpaque(), { userData in
            guard let userData else { return }
            Unmanaged<LogBox>.fromOpaque(userData).release()
        })
        if status != VOX_OK { box.release() }  // not stored: the library will not release it
        try check(status)
    }

    /// Turns logging off (and releases the handler).
    public static func disable() throws {
        try check(vox_set_log_callback(VOX_LOG_OFF, nil, nil, nil))
    }
}

final class LogBox: Sendable {
    let handler: @Sendable (VoxLog.Level, String, String) -> Void
    init(_ handler: @escaping @Sendable (VoxLog.Level, String, String) -> Void) { self.handler = handler }
}
