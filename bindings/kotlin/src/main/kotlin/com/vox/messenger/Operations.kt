package com.vox.messenger

import com.sun.jna.NativeLong
import com.sun.jna.Pointer
import com.sun.jna.ptr.IntByReference
import com.sun.jna.ptr.LongByReference
import com.sun.jna.ptr.PointerByReference
import kotlinx.coroutines.suspendCancellableCoroutine
import kotlin.coroutines.resumeWithException

/** The start of an asynchronous C call: completion, `out_op`, `out_error` → status. */
internal typealias Start = (VoxCompletion.ByValue, LongByReference, PointerByReference) -> Int

/**
 * Runs one asynchronous operation of [client] as a suspending call. The completion's borrowed
 * result is converted by [convert] on the callback thread (it must copy or clone what it keeps);
 * [dispose] frees a converted value that arrives after the caller was cancelled. Cancelling the
 * coroutine calls `vox_cancel`; the completion still runs exactly once and its user_data is
 * released by the library's `release` call.
 */
internal suspend fun <T> runOp(
    client: Client,
    convert: (Pointer?) -> T,
    dispose: (T) -> Unit = {},
    start: Start,
): T = try {
    suspendOp(client, convert, dispose, start)
} catch (e: VoxException) {
    // Created on the callback thread: give the caller a stack trace that leads to its own call.
    throw e.rethrown()
}

private suspend fun <T> suspendOp(
    client: Client,
    convert: (Pointer?) -> T,
    dispose: (T) -> Unit,
    start: Start,
): T = suspendCancellableCoroutine { cont ->
    val sink = object : CompletionSink() {
        override fun complete(status: Int, error: Pointer?, result: Pointer?) {
            if (status != VoxStatus.OK) {
                cont.resumeWithException(Vox.borrowError(status, error))
                return
            }
            val value = try {
                convert(result)
            } catch (t: Throwable) {
                cont.resumeWithException(t)
                return
            }
            cont.resume(value) { _, v, _ -> dispose(v) }
        }
    }
    val userData = Vox.register(sink)
    val op = LongByReference()
    val err = PointerByReference()
    val status = start(Vox.completion(userData), op, err)
    if (status != VoxStatus.OK) {
        // Nothing will be called back: user_data stays ours.
        Vox.unregister(userData)
        cont.resumeWithException(Vox.takeError(status, err.value))
        return@suspendCancellableCoroutine
    }
    val opId = op.value
    cont.invokeOnCancellation { Vox.lib.vox_cancel(client.handle, opId) }
}

internal suspend fun runUnit(client: Client, start: Start) = runOp(client, { }, {}, start)

internal suspend fun runEvent(client: Client, start: Start): MessengerEvent =
    runOp(client, { MessengerEvent.read(it!!, client) }, { it.close() }, start)

/**
 * A messenger event, or the result of an operation. Fields that the event does not carry are
 * null (or empty). [conversation] and [message] are live objects (owned handles): [close] the
 * event (or them) when done; a Cleaner frees them otherwise.
 */
class MessengerEvent internal constructor(
    val type: EventType,
    /** The wire name of the action, e.g. `"sendMessage"`. */
    val action: String?,
    /** The IM id of the user whose action caused the event. */
    val initiator: Long?,
    val sequence: Long?,
    /** UNIX seconds. */
    val timestamp: Long?,
    val conversationUuid: String?,
    val user: User?,
    val conversation: Conversation?,
    val message: Message?,
    val isOnline: Boolean?,
    val userIds: List<Long>,
    val conversationUuids: List<String>,
    /** The items of a list result (get users / conversations) or of a retransmit result. */
    val items: List<MessengerEvent>,
    val retransmitRange: LongRange?,
    val errorCode: Long?,
    val errorDescription: String?,
) : AutoCloseable {
    override fun close() {
        conversation?.close()
        message?.close()
        items.forEach { it.close() }
    }

    override fun toString() = "MessengerEvent($type, action=$action, initiator=$initiator, seq=$sequence, " +
        "conversation=$conversationUuid)"

    internal companion object {
        private val conversationTypes = setOf(
            EventType.CREATE_CONVERSATION, EventType.EDIT_CONVERSATION, EventType.REMOVE_CONVERSATION,
            EventType.GET_CONVERSATION,
        )
        private val messageTypes = setOf(EventType.SEND_MESSAGE, EventType.EDIT_MESSAGE, EventType.REMOVE_MESSAGE)
        private val userTypes = setOf(EventType.GET_USER, EventType.EDIT_USER)
        private val subscriptionTypes = setOf(EventType.SUBSCRIBE, EventType.UNSUBSCRIBE, EventType.GET_SUBSCRIPTIONS)

        /** Reads a borrowed `vox_event*` into Kotlin values (cloning the handles it keeps). */
        fun read(ev: Pointer, client: Client): MessengerEvent {
            val lib = Vox.lib
            val direct = VoxDirect.available
            val rawType = if (direct) {
                val out = IntArray(1)
                Vox.check(VoxDirect.vox_event_type(ev, out))
                out[0]
            } else {
                val out = IntByReference()
                Vox.check(lib.vox_event_type(ev, out))
                out.value
            }
            val type = EventType.of(rawType) ?: throw VoxException(VoxStatus.INTERNAL, 0, "unexpected event type $rawType")
            var items = emptyList<MessengerEvent>()
            val count = com.sun.jna.ptr.NativeLongByReference()
            if (lib.vox_event_item_count(ev, count) == VoxStatus.OK) {
                items = List(count.value.toInt()) { i ->
                    val item = Vox.handle { lib.vox_event_item_at(ev, NativeLong(i.toLong()), it) }
                    try {
                        read(item, client)
                    } finally {
                        lib.vox_event_free(item)
                    }
                }
            }
            val conversation = if (type in conversationTypes) {
                val out = PointerByReference()
                if (lib.vox_event_conversation(ev, out) == VoxStatus.OK) Conversation(out.value, client) else null
            } else null
            val message = if (type in messageTypes) {
                val out = PointerByReference()
                if (lib.vox_event_message(ev, out) == VoxStatus.OK) Message(out.value, client) else null
            } else null
            val user = if (type in userTypes) {
                val out = PointerByReference()
                if (lib.vox_event_user(ev, out) == VoxStatus.OK) {
                    try {
                        User.read(out.value)
                    } finally {
                        lib.vox_user_free(out.value)
                    }
                } else null
            } else null
            val userIds = if (type in subscriptionTypes) {
                val n = Vox.size { lib.vox_event_user_id_count(ev, it) }
                List(n) { i -> Vox.long { lib.vox_event_user_id_at(ev, NativeLong(i.toLong()), it) } }
            } else emptyList()
            val uuids = if (type == EventType.GET_PUBLIC_CONVERSATIONS) {
                val n = Vox.size { lib.vox_event_conversation_list_count(ev, it) }
                List(n) { i -> Vox.string { lib.vox_event_conversation_list_at(ev, NativeLong(i.toLong()), it) } }
            } else emptyList()
            val range = if (type == EventType.RETRANSMIT_EVENTS) {
                val from = LongByReference()
                val to = LongByReference()
                if (lib.vox_event_retransmit_range(ev, from, to) == VoxStatus.OK) from.value..to.value else null
            } else null
            val online = if (type == EventType.SET_STATUS) {
                val out = com.sun.jna.ptr.ByteByReference()
                if (lib.vox_event_is_online(ev, out) == VoxStatus.OK) out.value.toInt() != 0 else null
            } else null
            val errorCode = if (type == EventType.ERROR) {
                val out = IntByReference()
                if (lib.vox_event_error_code(ev, out) == VoxStatus.OK) out.value.toLong() and 0xffffffffL else null
            } else null
            return MessengerEvent(
                type = type,
                action = if (direct) VoxDirect.stringOrNull { VoxDirect.vox_event_action(ev, it) } else Vox.stringOrNull { lib.vox_event_action(ev, it) },
                initiator = if (direct) VoxDirect.longOrNull { VoxDirect.vox_event_initiator(ev, it) } else Vox.longOrNull { lib.vox_event_initiator(ev, it) },
                sequence = if (direct) VoxDirect.longOrNull { VoxDirect.vox_event_sequence(ev, it) } else Vox.longOrNull { lib.vox_event_sequence(ev, it) },
                timestamp = if (direct) VoxDirect.longOrNull { VoxDirect.vox_event_timestamp(ev, it) } else Vox.longOrNull { lib.vox_event_timestamp(ev, it) },
                conversationUuid = if (direct) VoxDirect.stringOrNull { VoxDirect.vox_event_conversation_uuid(ev, it) } else Vox.stringOrNull { lib.vox_event_conversation_uuid(ev, it) },
                user = user,
                conversation = conversation,
                message = message,
                isOnline = online,
                userIds = userIds,
                conversationUuids = uuids,
                items = items,
                retransmitRange = range,
                errorCode = errorCode,
                errorDescription = if (type == EventType.ERROR) Vox.stringOrNull { lib.vox_event_error_description(ev, it) } else null,
            )
        }
    }
}
