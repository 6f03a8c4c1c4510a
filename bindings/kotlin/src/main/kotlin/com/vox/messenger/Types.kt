package com.vox.messenger

import com.sun.jna.Pointer
import java.lang.ref.Cleaner

/** The status codes of the C ABI (`VOX_OK`, `VOX_ERR_*`). */
object VoxStatus {
    const val OK = 0
    const val NULL_ARGUMENT = 100
    const val INVALID_UTF8 = 101
    const val INVALID_JSON = 102
    const val INVALID_ARGUMENT = 103
    const val INVALID_HANDLE = 104
    const val WRONG_HANDLE_TYPE = 105
    const val OUT_OF_RANGE = 106
    const val NO_VALUE = 107
    const val INVALID_STATE = 200
    const val NOT_LOGGED_IN = 201
    const val CALL_DISCARDED = 202
    const val CONNECTION_FAILED = 300
    const val TLS = 301
    const val CONNECTION_CLOSED = 302
    const val PROTOCOL = 303
    const val MESSENGER = 400
    const val LOGIN_FAILED = 401
    const val TIMEOUT = 500
    const val CANCELLED = 600
    const val INTERNAL = 900

    fun name(status: Int): String = when (status) {
        OK -> "OK"
        NULL_ARGUMENT -> "NULL_ARGUMENT"
        INVALID_UTF8 -> "INVALID_UTF8"
        INVALID_JSON -> "INVALID_JSON"
        INVALID_ARGUMENT -> "INVALID_ARGUMENT"
        INVALID_HANDLE -> "INVALID_HANDLE"
        WRONG_HANDLE_TYPE -> "WRONG_HANDLE_TYPE"
        OUT_OF_RANGE -> "OUT_OF_RANGE"
        NO_VALUE -> "NO_VALUE"
        INVALID_STATE -> "INVALID_STATE"
        NOT_LOGGED_IN -> "NOT_LOGGED_IN"
        CALL_DISCARDED -> "CALL_DISCARDED"
        CONNECTION_FAILED -> "CONNECTION_FAILED"
        TLS -> "TLS"
        CONNECTION_CLOSED -> "CONNECTION_CLOSED"
        PROTOCOL -> "PROTOCOL"
        MESSENGER -> "MESSENGER"
        LOGIN_FAILED -> "LOGIN_FAILED"
        TIMEOUT -> "TIMEOUT"
        CANCELLED -> "CANCELLED"
        INTERNAL -> "INTERNAL"
        else -> "status $status"
    }
}

/**
 * A failed library call or operation. [status] is a [VoxStatus] code; [code] the protocol's or
 * SDK's number (`vox_error_code`: e.g. 8 = conversation does not exist for [VoxStatus.MESSENGER],
 * 401 for a wrong password with [VoxStatus.LOGIN_FAILED]; 0 for errors of the C layer).
 */
class VoxException(val status: Int, val code: Long, val detail: String) :
    Exception("${VoxStatus.name(status)} ($status, code $code): $detail") {
    /** The same error with the stack of the current (calling) thread. */
    internal fun rethrown(): VoxException = VoxException(status, code, detail)
}

enum class ClientState {
    DISCONNECTED, CONNECTING, CONNECTED, RECONNECTING, LOGGED_IN, CLOSED;

    companion object {
        fun of(v: Int): ClientState = entries.getOrElse(v) { CLOSED }
    }
}

/** A connection event (`vox_client_event`). */
data class ConnectionEvent(val kind: Int, val state: ClientState, val reason: String?) {
    companion object {
        const val STATE_CHANGED = 0
        const val CONNECTION_FAILED = 1
        const val RECONNECTING = 2
        const val RECONNECTED = 3
        const val CONNECTION_CLOSED = 4
    }
}

enum class Digest(internal val value: Int) { MD5(0), SHA256(1) }

/** The Web SDK's login options. */
data class LoginOptions(val receiveCalls: Boolean? = null, val deviceToken: String? = null)

/** The result of a login or token refresh. Tokens are secrets: do not log them. */
data class LoginResult(
    val displayName: String?,
    val accessToken: String?,
    val refreshToken: String?,
    val accessExpire: Long?,
    val refreshExpire: Long?,
) {
    override fun toString() = "LoginResult(displayName=$displayName, tokens=${accessToken != null})"
}

/** A participant and their permissions. All false: the server's defaults (write, edit, remove). */
data class Participant(
    val imUserId: Long,
    val canWrite: Boolean = false,
    val canEditMessages: Boolean = false,
    val canEditAllMessages: Boolean = false,
    val canRemoveMessages: Boolean = false,
    val canRemoveAllMessages: Boolean = false,
    val canManageParticipants: Boolean = false,
    val owner: Boolean = false,
    /** Read-only: the last sequence the participant marked as read. */
    val lastReadEventSequence: Long = 0,
)

/** What a new conversation looks like. */
data class ConversationConfig(
    val participants: List<Participant> = emptyList(),
    val title: String? = null,
    val direct: Boolean = false,
    val publicJoin: Boolean = false,
    val uber: Boolean = false,
    /** JSON object text. */
    val customData: String? = null,
)

/** A messenger user (a snapshot). IM ids are unsigned 64-bit values carried in a Long. */
data class User(
    val name: String,
    val imId: Long,
    val displayName: String,
    val customData: String,
    val privateCustomData: String?,
    val isDeleted: Boolean,
    val conversations: List<String>,
    val leftConversations: List<String>,
    val notifications: List<String>,
) {
    internal companion object {
        /** Reads a borrowed or owned `vox_user*` (not freed here). */
        fun read(u: Pointer): User {
            val lib = Vox.lib
            fun list(which: Int): List<String> {
                val n = Vox.size { lib.vox_user_list_count(u, which, it) }
                return List(n) { i -> Vox.string { lib.vox_user_list_at(u, which, com.sun.jna.NativeLong(i.toLong()), it) } }
            }
            return User(
                name = Vox.string { lib.vox_user_name(u, it) },
                imId = Vox.long { lib.vox_user_im_id(u, it) },
                displayName = Vox.string { lib.vox_user_display_name(u, it) },
                customData = Vox.string { lib.vox_user_custom_data(u, it) },
                privateCustomData = Vox.stringOrNull { lib.vox_user_private_custom_data(u, it) },
                isDeleted = Vox.bool { lib.vox_user_is_deleted(u, it) },
                conversations = list(0),
                leftConversations = list(1),
                notifications = list(2),
            )
        }
    }
}

enum class NotificationKind(internal val value: Int) { SEND_MESSAGE(0), EDIT_MESSAGE(1), CREATE_CONVERSATION(2) }

/** The messenger event types (`VOX_EVENT_*` 0–17). */
enum class EventType(val value: Int) {
    CREATE_CONVERSATION(0), EDIT_CONVERSATION(1), EDIT_MESSAGE(2), EDIT_USER(3), ERROR(4),
    GET_CONVERSATION(5), GET_PUBLIC_CONVERSATIONS(6), GET_SUBSCRIPTIONS(7), GET_USER(8), READ(9),
    REMOVE_CONVERSATION(10), REMOVE_MESSAGE(11), RETRANSMIT_EVENTS(12), SEND_MESSAGE(13),
    SET_STATUS(14), SUBSCRIBE(15), TYPING(16), UNSUBSCRIBE(17);

    companion object {
        fun of(v: Int): EventType? = entries.firstOrNull { it.value == v }
    }
}

private val cleaner: Cleaner = Cleaner.create()

/** The cleanup of one handle: runs once, from [NativeObject.close] or from the Cleaner. */
private class HandleFree(private val handle: Pointer, private val free: (Pointer) -> Int) : Runnable {
    override fun run() {
        free(handle)
    }
}

/**
 * An owned library handle. [close] frees it at once; if it is forgotten, a [Cleaner] frees it
 * after it becomes unreachable. Handles are generation-checked by the library, so a call on a
 * closed object fails with [VoxStatus.INVALID_HANDLE] instead of crashing.
 */
abstract class NativeObject internal constructor(internal val handle: Pointer, free: (Pointer) -> Int) : AutoCloseable {
    private val cleanable = cleaner.register(this, HandleFree(handle, free))

    override fun close() {
        cleanable.clean()
    }
}
