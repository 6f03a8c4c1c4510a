package com.vox.messenger

import com.sun.jna.CallbackThreadInitializer
import com.sun.jna.Native
import com.sun.jna.Pointer
import java.util.concurrent.ConcurrentHashMap
import java.util.concurrent.atomic.AtomicLong

enum class LogLevel(internal val value: Int) { OFF(0), ERROR(1), WARN(2), INFO(3), DEBUG(4), TRACE(5) }

/** The library's log records (`vox_set_log_callback`). Passwords and tokens are never logged. */
object VoxLog {
    /**
     * The installed callbacks by user_data id: each stays reachable (JNA must not collect it)
     * until the library's release call says no call of it is in progress any more.
     */
    private val installed = ConcurrentHashMap<Long, LogFn>()
    private val nextId = AtomicLong(1)

    /** How many replaced callbacks the library has released (for tests). */
    val released = AtomicLong()

    private val release: ReleaseFn = object : ReleaseFn {
        override fun invoke(userData: Pointer?) {
            userData?.let { installed.remove(Pointer.nativeValue(it)) }
            released.incrementAndGet()
        }
    }

    /** Callbacks currently kept alive for the library (the installed one, plus any still running). */
    val kept: Int get() = installed.size

    /**
     * Sends records at [level] and more severe to [sink], called on whichever library thread
     * logs (possibly several at once): it must be thread-safe and quick. [LogLevel.OFF] or a
     * null sink turns logging off. A replaced sink is dropped once the library releases it.
     */
    @Synchronized
    fun set(level: LogLevel, sink: ((LogLevel, String, String) -> Unit)?) {
        if (sink == null || level == LogLevel.OFF) {
            Vox.check(Vox.lib.vox_set_log_callback(LogLevel.OFF.value, null, null, null))
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
        val id = nextId.getAndIncrement()
        installed[id] = fn
        val status = Vox.lib.vox_set_log_callback(level.value, fn, Pointer(id), release)
        if (status != VoxStatus.OK) installed.remove(id) // not stored: never released
        Vox.check(status)
    }
}
