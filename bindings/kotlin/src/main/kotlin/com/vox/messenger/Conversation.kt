package com.vox.messenger

import com.sun.jna.Memory
import com.sun.jna.NativeLong
import com.sun.jna.Pointer
import com.sun.jna.ptr.PointerByReference

/**
 * A conversation (`vox_conversation`): a snapshot of its data plus the calls that act on it.
 * The setters change only this object's copy; [update] sends them.
 */
class Conversation internal constructor(handle: Pointer, val client: Client) :
    NativeObject(handle, { Vox.lib.vox_conversation_free(it) }) {

    private val lib get() = Vox.lib

    /**
     * The native client this conversation belongs to, as the library reports it
     * (`vox_conversation_client`, a borrowed handle: never freed here); the same handle as
     * [client]'s. Throws `VoxException(INVALID_HANDLE)` once that client is closed.
     */
    val nativeClient: Pointer get() = Vox.handle { lib.vox_conversation_client(handle, it) }

    /** Cancels an operation of this conversation's client by id (`vox_cancel` on [nativeClient]). */
    fun cancel(operationId: Long) = Vox.check(lib.vox_cancel(nativeClient, operationId))

    val uuid: String
        get() = if (VoxDirect.available) VoxDirect.string { VoxDirect.vox_conversation_uuid(handle, it) }
        else Vox.string { lib.vox_conversation_uuid(handle, it) }

    var title: String
        get() = if (VoxDirect.available) VoxDirect.string { VoxDirect.vox_conversation_title(handle, it) }
        else Vox.string { lib.vox_conversation_title(handle, it) }
        set(value) = Vox.check(lib.vox_conversation_set_title(handle, value))

    /** Custom data as JSON object text. Setting invalid JSON throws INVALID_JSON. */
    var customData: String
        get() = Vox.string { lib.vox_conversation_custom_data(handle, it) }
        set(value) {
            val err = PointerByReference()
            Vox.check(lib.vox_conversation_set_custom_data(handle, value, err), err)
        }

    var isPublicJoin: Boolean
        get() = Vox.bool { lib.vox_conversation_is_public_join(handle, it) }
        set(value) = Vox.check(lib.vox_conversation_set_public_join(handle, value.toByte()))

    val isDirect: Boolean get() = Vox.bool { lib.vox_conversation_is_direct(handle, it) }
    val isUber: Boolean get() = Vox.bool { lib.vox_conversation_is_uber(handle, it) }

    /** UNIX seconds. */
    val createdTime: Long get() = Vox.long { lib.vox_conversation_created_time(handle, it) }

    /** UNIX seconds. */
    val lastUpdateTime: Long get() = Vox.long { lib.vox_conversation_last_update_time(handle, it) }
    val lastSequence: Long
        get() = if (VoxDirect.available) VoxDirect.long { VoxDirect.vox_conversation_last_sequence(handle, it) }
        else Vox.long { lib.vox_conversation_last_sequence(handle, it) }

    val participants: List<Participant>
        get() {
            val n = Vox.size { lib.vox_conversation_participant_count(handle, it) }
            val mem = Memory(24)
            return List(n) { i ->
                Vox.check(lib.vox_conversation_participant_at(handle, NativeLong(i.toLong()), mem))
                Vox.readParticipant(mem)
            }
        }

    /** Sends the title, public join and custom data of this object. */
    suspend fun update(): MessengerEvent = runEvent(client) { k, op, e -> lib.vox_conversation_update(handle, k, op, e) }

    suspend fun addParticipants(participants: List<Participant>): MessengerEvent = runEvent(client) { k, op, e ->
        lib.vox_conversation_add_participants(handle, Vox.participants(participants), NativeLong(participants.size.toLong()), k, op, e)
    }

    suspend fun editParticipants(participants: List<Participant>): MessengerEvent = runEvent(client) { k, op, e ->
        lib.vox_conversation_edit_participants(handle, Vox.participants(participants), NativeLong(participants.size.toLong()), k, op, e)
    }

    suspend fun removeParticipants(imUserIds: List<Long>): MessengerEvent = runEvent(client) { k, op, e ->
        val ps = imUserIds.map { Participant(it) }
        lib.vox_conversation_remove_participants(handle, Vox.participants(ps), NativeLong(ps.size.toLong()), k, op, e)
    }

    /** Tells the participants the user is typing; within 10 s of the last call: CALL_DISCARDED. */
    suspend fun typing(): MessengerEvent = runEvent(client) { k, op, e -> lib.vox_conversation_typing(handle, k, op, e) }

    /** Sends a message: [text] and a [payload] (JSON text of an array of objects, or null). */
    suspend fun sendMessage(text: String, payload: String? = null): Message =
        runOp(client, { ev -> Message(Vox.handle { lib.vox_event_message(ev!!, it) }, client) }, { it.close() }) { k, op, e ->
            lib.vox_conversation_send_message(handle, text, payload, k, op, e)
        }

    suspend fun markAsRead(sequence: Long): MessengerEvent = runEvent(client) { k, op, e ->
        lib.vox_conversation_mark_as_read(handle, sequence, k, op, e)
    }

    /** The events `from..to` (at most 100), in [MessengerEvent.items]. */
    suspend fun retransmitEvents(from: Long, to: Long): MessengerEvent = runEvent(client) { k, op, e ->
        lib.vox_conversation_retransmit_events(handle, from, to, k, op, e)
    }

    suspend fun retransmitEventsFrom(from: Long, count: Long): MessengerEvent = runEvent(client) { k, op, e ->
        lib.vox_conversation_retransmit_events_from(handle, from, count, k, op, e)
    }

    suspend fun retransmitEventsTo(to: Long, count: Long): MessengerEvent = runEvent(client) { k, op, e ->
        lib.vox_conversation_retransmit_events_to(handle, to, count, k, op, e)
    }

    /** A new object with a copy of this conversation. */
    fun copy(): Conversation = Conversation(Vox.handle { lib.vox_conversation_clone(handle, it) }, client)

    override fun toString() = "Conversation($uuid)"
}

/** A message (`vox_message`): a snapshot of its data plus the calls that act on it. */
class Message internal constructor(handle: Pointer, val client: Client) :
    NativeObject(handle, { Vox.lib.vox_message_free(it) }) {

    private val lib get() = Vox.lib

    /** The native client of this message (`vox_message_client`, borrowed); see [Conversation.nativeClient]. */
    val nativeClient: Pointer get() = Vox.handle { lib.vox_message_client(handle, it) }

    val uuid: String
        get() = if (VoxDirect.available) VoxDirect.string { VoxDirect.vox_message_uuid(handle, it) }
        else Vox.string { lib.vox_message_uuid(handle, it) }
    val conversationUuid: String
        get() = if (VoxDirect.available) VoxDirect.string { VoxDirect.vox_message_conversation(handle, it) }
        else Vox.string { lib.vox_message_conversation(handle, it) }
    val text: String
        get() = if (VoxDirect.available) VoxDirect.string { VoxDirect.vox_message_text(handle, it) }
        else Vox.string { lib.vox_message_text(handle, it) }

    /** JSON text of an array of objects (`[]` when there is none). */
    val payload: String
        get() = if (VoxDirect.available) VoxDirect.string { VoxDirect.vox_message_payload(handle, it) }
        else Vox.string { lib.vox_message_payload(handle, it) }

    /** The sender's IM id (0 for a recreated message). */
    val sender: Long
        get() = if (VoxDirect.available) VoxDirect.long { VoxDirect.vox_message_sender(handle, it) }
        else Vox.long { lib.vox_message_sender(handle, it) }
    val sequence: Long
        get() = if (VoxDirect.available) VoxDirect.long { VoxDirect.vox_message_sequence(handle, it) }
        else Vox.long { lib.vox_message_sequence(handle, it) }

    suspend fun update(text: String, payload: String? = null): MessengerEvent = runEvent(client) { k, op, e ->
        lib.vox_message_update(handle, text, payload, k, op, e)
    }

    suspend fun remove(): MessengerEvent = runEvent(client) { k, op, e -> lib.vox_message_remove(handle, k, op, e) }

    fun copy(): Message = Message(Vox.handle { lib.vox_message_clone(handle, it) }, client)

    override fun toString() = "Message($uuid)"
}

/** Library-wide checks for tests and diagnostics. */
object VoxDebug {
    /** Live library handles (`vox_debug_live_handles`). */
    val liveHandles: Long get() = Vox.lib.vox_debug_live_handles()

    /** Completions and listeners whose user_data the library has not released yet. */
    val pendingCallbacks: Int get() = Vox.pending()

    val completionsRun: Long get() = Vox.completionsRun.get()
    val releasesRun: Long get() = Vox.releasesRun.get()

    /** Completions that ran more than once for the same operation (must stay 0). */
    val duplicateCompletions: Long get() = Vox.duplicateCompletions.get()

    /** Whether this JSON is an object (`kind` 0) or an array of objects (`kind` 1). */
    fun validateJson(json: String, kind: Int): Int = Vox.lib.vox_json_validate(json, kind, null)
}
