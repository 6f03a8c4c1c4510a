package com.vox.messenger

import com.sun.jna.CallbackThreadInitializer
import com.sun.jna.Native
import com.sun.jna.Pointer

enum class LogLevel(internal val value: Int) { OFF(0), ERROR(1), WARN(2), INFO(3), DEBUG(4), TRACE(5) }

/** The library's log records (`vox_set_log_callback`). Passwords and tokens are never logged. */
object VoxLog {
    @Volatile private var current: LogFn? = null
    private val keep = mutableListOf<LogFn>() // earlier callbacks may still be running: keep them

    /**
     * Sends records at [level] and more severe to [sink], called on whichever library thread
     * logs (possibly several at once): it must be thread-safe and quick. [LogLevel.OFF] or a
     * null sink turns logging off.
     */
    @Synchronized
    fun set(level: LogLevel, sink: ((LogLevel, String, String) -> Unit)?) {
        if (sink == null || level == LogLevel.OFF) {
            Vox.check(Vox.lib.vox_set_log_callback(LogLevel.OFF.value, null, null))
            current = null
            return
        }
        val fn = object : LogFn {
            override fun invoke(userData: Pointer?, level: Int, target: String?, message: String?) {
                try {
                    sink(LogLevel.entries.getOrElse(level) { LogLevel.TRACE }, target ?: "", message ?: "")
                } catch (_: Throwable) {
                }
            }
        }
        Native.setCallbackThreadInitializer(fn, CallbackThreadInitializer(true, false, "vox-log"))
        Vox.check(Vox.lib.vox_set_log_callback(level.value, fn, null))
        keep += fn
        current = fn
    }
}
