package com.vox.messenger

import com.sun.jna.Callback
import com.sun.jna.CallbackThreadInitializer
import com.sun.jna.Library
import com.sun.jna.Memory
import com.sun.jna.Native
import com.sun.jna.NativeLong
import com.sun.jna.Pointer
import com.sun.jna.Structure
import com.sun.jna.ptr.ByteByReference
import com.sun.jna.ptr.IntByReference
import com.sun.jna.ptr.LongByReference
import com.sun.jna.ptr.NativeLongByReference
import com.sun.jna.ptr.PointerByReference
import java.util.concurrent.ConcurrentHashMap
import java.util.concurrent.atomic.AtomicInteger
import java.util.concurrent.atomic.AtomicLong

/*
 * The raw C ABI (include/vox_messenger.h) through JNA interface mapping. JNA-safe signatures:
 * every return is int32 (status), a pointer or int64; unsigned values come back in signed
 * Java types and are documented as such; handles are Pointer; size_t is NativeLong (size_t ==
 * C long on LP64 and ILP32, i.e. every Linux/Android ABI); C bool out-parameters are one byte.
 */

internal interface CompletionFn : Callback {
    fun invoke(userData: Pointer?, status: Int, error: Pointer?, result: Pointer?)
}

internal interface EventFn : Callback {
    fun invoke(userData: Pointer?, event: Pointer?)
}

internal interface ClientEventFn : Callback {
    fun invoke(userData: Pointer?, event: Pointer?)
}

internal interface ReleaseFn : Callback {
    fun invoke(userData: Pointer?)
}

internal interface LogFn : Callback {
    fun invoke(userData: Pointer?, level: Int, target: String?, message: String?)
}

/** `vox_completion`, passed by value. */
@Structure.FieldOrder("callback", "user_data", "release")
internal open class VoxCompletion : Structure() {
    @JvmField var callback: CompletionFn? = null
    @JvmField var user_data: Pointer? = null
    @JvmField var release: ReleaseFn? = null

    class ByValue : VoxCompletion(), Structure.ByValue
}

/** `vox_listener`, passed by value. */
@Structure.FieldOrder("callback", "user_data", "release")
internal open class VoxListener : Structure() {
    @JvmField var callback: EventFn? = null
    @JvmField var user_data: Pointer? = null
    @JvmField var release: ReleaseFn? = null

    class ByValue : VoxListener(), Structure.ByValue
}

/** `vox_client_listener`, passed by value. */
@Structure.FieldOrder("callback", "user_data", "release")
internal open class VoxClientListener : Structure() {
    @JvmField var callback: ClientEventFn? = null
    @JvmField var user_data: Pointer? = null
    @JvmField var release: ReleaseFn? = null

    class ByValue : VoxClientListener(), Structure.ByValue
}

/** `vox_conversation_config`, passed by pointer. */
@Structure.FieldOrder(
    "participants", "participant_count", "title", "direct", "public_join", "uber", "custom_data_json",
)
internal open class VoxConversationConfig : Structure() {
    @JvmField var participants: Pointer? = null
    @JvmField var participant_count: NativeLong = NativeLong(0)
    @JvmField var title: String? = null
    @JvmField var direct: Byte = 0
    @JvmField var public_join: Byte = 0
    @JvmField var uber: Byte = 0
    @JvmField var custom_data_json: String? = null

    init {
        setStringEncoding("UTF-8")
    }
}

/** `vox_login_options`, passed by pointer. */
@Structure.FieldOrder("receive_calls", "device_token")
internal open class VoxLoginOptions : Structure() {
    @JvmField var receive_calls: Int = -1
    @JvmField var device_token: String? = null

    init {
        setStringEncoding("UTF-8")
    }
}

@Suppress("FunctionName", "LongParameterList")
internal interface VoxLib : Library {
    fun vox_version(): Pointer?
    fun vox_abi_version(): Int
    fun vox_debug_live_handles(): Long
    fun vox_set_log_callback(level: Int, callback: LogFn?, userData: Pointer?, release: ReleaseFn?): Int

    /** C `bool`: only the low byte is defined, so it is read as a byte (JNA-safe). */
    fun vox_is_callback_thread(): Byte

    fun vox_error_status(error: Pointer?): Int
    fun vox_error_code(error: Pointer?): Int
    fun vox_error_message(error: Pointer?): Pointer?
    fun vox_error_free(error: Pointer?): Int
    fun vox_string_free(s: Pointer?)
    fun vox_string_len(s: Pointer?): NativeLong
    fun vox_json_validate(json: String?, kind: Int, outError: PointerByReference?): Int

    fun vox_client_config_new(server: String?, out: PointerByReference): Int
    fun vox_client_config_add_server(cfg: Pointer, server: String?): Int
    fun vox_client_config_set_custom_ca(cfg: Pointer, pem: String?): Int
    fun vox_client_config_set_pinned_certificate(cfg: Pointer, cert: ByteArray, len: NativeLong): Int
    fun vox_client_config_set_timeouts(cfg: Pointer, requestMs: Long, connectMs: Long): Int
    fun vox_client_config_set_request_spacing(cfg: Pointer, spacingMs: Long): Int
    fun vox_client_config_set_reconnect(cfg: Pointer, delays: LongArray?, count: NativeLong, jitter: Int): Int
    fun vox_client_config_free(cfg: Pointer?): Int

    fun vox_client_new(cfg: Pointer, out: PointerByReference, outError: PointerByReference?): Int
    fun vox_client_connect(c: Pointer, k: VoxCompletion.ByValue, op: LongByReference?, e: PointerByReference?): Int
    fun vox_client_disconnect(c: Pointer, k: VoxCompletion.ByValue, op: LongByReference?, e: PointerByReference?): Int
    fun vox_client_state(c: Pointer, out: IntByReference): Int
    fun vox_client_notify_network_changed(c: Pointer): Int
    fun vox_cancel(c: Pointer, op: Long): Int
    fun vox_client_login(
        c: Pointer, user: String?, password: String?, digest: Int, options: VoxLoginOptions?,
        k: VoxCompletion.ByValue, op: LongByReference?, e: PointerByReference?,
    ): Int
    fun vox_client_login_with_token(
        c: Pointer, user: String?, token: String?, options: VoxLoginOptions?,
        k: VoxCompletion.ByValue, op: LongByReference?, e: PointerByReference?,
    ): Int
    fun vox_client_request_one_time_login_key(
        c: Pointer, user: String?, k: VoxCompletion.ByValue, op: LongByReference?, e: PointerByReference?,
    ): Int
    fun vox_one_time_key_hash(key: String?, login: String?, password: String?, out: PointerByReference): Int
    fun vox_client_login_with_one_time_key(
        c: Pointer, user: String?, hash: String?, options: VoxLoginOptions?,
        k: VoxCompletion.ByValue, op: LongByReference?, e: PointerByReference?,
    ): Int
    fun vox_client_token_refresh(
        c: Pointer, user: String?, refresh: String?, device: String?,
        k: VoxCompletion.ByValue, op: LongByReference?, e: PointerByReference?,
    ): Int
    fun vox_client_on_event(c: Pointer, listener: VoxClientListener.ByValue, outId: LongByReference?): Int
    fun vox_client_off_event(c: Pointer, id: Long): Int
    fun vox_client_messenger(c: Pointer, out: PointerByReference): Int
    fun vox_client_free(c: Pointer?): Int

    fun vox_conversation_uuid(c: Pointer, out: PointerByReference): Int
    fun vox_conversation_title(c: Pointer, out: PointerByReference): Int
    fun vox_conversation_custom_data(c: Pointer, out: PointerByReference): Int
    fun vox_conversation_is_direct(c: Pointer, out: ByteByReference): Int
    fun vox_conversation_is_public_join(c: Pointer, out: ByteByReference): Int
    fun vox_conversation_is_uber(c: Pointer, out: ByteByReference): Int
    fun vox_conversation_created_time(c: Pointer, out: LongByReference): Int
    fun vox_conversation_last_update_time(c: Pointer, out: LongByReference): Int
    fun vox_conversation_last_sequence(c: Pointer, out: LongByReference): Int
    fun vox_conversation_participant_count(c: Pointer, out: NativeLongByReference): Int
    fun vox_conversation_participant_at(c: Pointer, index: NativeLong, out: Pointer): Int
    fun vox_conversation_set_title(c: Pointer, title: String?): Int
    fun vox_conversation_set_public_join(c: Pointer, publicJoin: Byte): Int
    fun vox_conversation_set_custom_data(c: Pointer, json: String?, e: PointerByReference?): Int
    fun vox_conversation_update(c: Pointer, k: VoxCompletion.ByValue, op: LongByReference?, e: PointerByReference?): Int
    fun vox_conversation_add_participants(
        c: Pointer, p: Pointer?, n: NativeLong, k: VoxCompletion.ByValue, op: LongByReference?, e: PointerByReference?,
    ): Int
    fun vox_conversation_edit_participants(
        c: Pointer, p: Pointer?, n: NativeLong, k: VoxCompletion.ByValue, op: LongByReference?, e: PointerByReference?,
    ): Int
    fun vox_conversation_remove_participants(
        c: Pointer, p: Pointer?, n: NativeLong, k: VoxCompletion.ByValue, op: LongByReference?, e: PointerByReference?,
    ): Int
    fun vox_conversation_typing(c: Pointer, k: VoxCompletion.ByValue, op: LongByReference?, e: PointerByReference?): Int
    fun vox_conversation_send_message(
        c: Pointer, text: String?, payload: String?, k: VoxCompletion.ByValue, op: LongByReference?, e: PointerByReference?,
    ): Int
    fun vox_conversation_mark_as_read(
        c: Pointer, seq: Long, k: VoxCompletion.ByValue, op: LongByReference?, e: PointerByReference?,
    ): Int
    fun vox_conversation_retransmit_events(
        c: Pointer, from: Long, to: Long, k: VoxCompletion.ByValue, op: LongByReference?, e: PointerByReference?,
    ): Int
    fun vox_conversation_retransmit_events_from(
        c: Pointer, from: Long, count: Long, k: VoxCompletion.ByValue, op: LongByReference?, e: PointerByReference?,
    ): Int
    fun vox_conversation_retransmit_events_to(
        c: Pointer, to: Long, count: Long, k: VoxCompletion.ByValue, op: LongByReference?, e: PointerByReference?,
    ): Int
    fun vox_conversation_clone(c: Pointer, out: PointerByReference): Int
    fun vox_conversation_free(c: Pointer?): Int

    fun vox_event_type(ev: Pointer, out: IntByReference): Int
    fun vox_event_action(ev: Pointer, out: PointerByReference): Int
    fun vox_event_initiator(ev: Pointer, out: LongByReference): Int
    fun vox_event_sequence(ev: Pointer, out: LongByReference): Int
    fun vox_event_timestamp(ev: Pointer, out: LongByReference): Int
    fun vox_event_user(ev: Pointer, out: PointerByReference): Int
    fun vox_event_conversation(ev: Pointer, out: PointerByReference): Int
    fun vox_event_message(ev: Pointer, out: PointerByReference): Int
    fun vox_event_conversation_uuid(ev: Pointer, out: PointerByReference): Int
    fun vox_event_is_online(ev: Pointer, out: ByteByReference): Int
    fun vox_event_user_id_count(ev: Pointer, out: NativeLongByReference): Int
    fun vox_event_user_id_at(ev: Pointer, index: NativeLong, out: LongByReference): Int
    fun vox_event_conversation_list_count(ev: Pointer, out: NativeLongByReference): Int
    fun vox_event_conversation_list_at(ev: Pointer, index: NativeLong, out: PointerByReference): Int
    fun vox_event_item_count(ev: Pointer, out: NativeLongByReference): Int
    fun vox_event_item_at(ev: Pointer, index: NativeLong, out: PointerByReference): Int
    fun vox_event_retransmit_range(ev: Pointer, from: LongByReference, to: LongByReference): Int
    fun vox_event_error_code(ev: Pointer, out: IntByReference): Int
    fun vox_event_error_description(ev: Pointer, out: PointerByReference): Int
    fun vox_event_display_name(ev: Pointer, out: PointerByReference): Int
    fun vox_event_one_time_key(ev: Pointer, out: PointerByReference): Int
    fun vox_event_access_token(ev: Pointer, out: PointerByReference): Int
    fun vox_event_refresh_token(ev: Pointer, out: PointerByReference): Int
    fun vox_event_token_expiry(ev: Pointer, access: LongByReference, refresh: LongByReference): Int
    fun vox_event_clone(ev: Pointer, out: PointerByReference): Int
    fun vox_event_free(ev: Pointer?): Int

    fun vox_user_name(u: Pointer, out: PointerByReference): Int
    fun vox_user_im_id(u: Pointer, out: LongByReference): Int
    fun vox_user_display_name(u: Pointer, out: PointerByReference): Int
    fun vox_user_custom_data(u: Pointer, out: PointerByReference): Int
    fun vox_user_private_custom_data(u: Pointer, out: PointerByReference): Int
    fun vox_user_is_deleted(u: Pointer, out: ByteByReference): Int
    fun vox_user_list_count(u: Pointer, which: Int, out: NativeLongByReference): Int
    fun vox_user_list_at(u: Pointer, which: Int, index: NativeLong, out: PointerByReference): Int
    fun vox_user_free(u: Pointer?): Int

    fun vox_message_uuid(m: Pointer, out: PointerByReference): Int
    fun vox_message_conversation(m: Pointer, out: PointerByReference): Int
    fun vox_message_text(m: Pointer, out: PointerByReference): Int
    fun vox_message_payload(m: Pointer, out: PointerByReference): Int
    fun vox_message_sender(m: Pointer, out: LongByReference): Int
    fun vox_message_sequence(m: Pointer, out: LongByReference): Int
    fun vox_message_update(
        m: Pointer, text: String?, payload: String?, k: VoxCompletion.ByValue, op: LongByReference?, e: PointerByReference?,
    ): Int
    fun vox_message_remove(m: Pointer, k: VoxCompletion.ByValue, op: LongByReference?, e: PointerByReference?): Int
    fun vox_message_clone(m: Pointer, out: PointerByReference): Int
    fun vox_message_free(m: Pointer?): Int

    fun vox_messenger_get_me(m: Pointer, out: PointerByReference): Int
    fun vox_messenger_get_user_by_name(
        m: Pointer, name: String?, k: VoxCompletion.ByValue, op: LongByReference?, e: PointerByReference?,
    ): Int
    fun vox_messenger_get_user_by_im_id(
        m: Pointer, id: Long, k: VoxCompletion.ByValue, op: LongByReference?, e: PointerByReference?,
    ): Int
    fun vox_messenger_get_users_by_name(
        m: Pointer, names: Array<String>?, n: NativeLong, k: VoxCompletion.ByValue, op: LongByReference?, e: PointerByReference?,
    ): Int
    fun vox_messenger_get_users_by_im_id(
        m: Pointer, ids: LongArray?, n: NativeLong, k: VoxCompletion.ByValue, op: LongByReference?, e: PointerByReference?,
    ): Int
    fun vox_messenger_edit_user(
        m: Pointer, custom: String?, private: String?, k: VoxCompletion.ByValue, op: LongByReference?, e: PointerByReference?,
    ): Int
    fun vox_messenger_set_status(
        m: Pointer, online: Byte, k: VoxCompletion.ByValue, op: LongByReference?, e: PointerByReference?,
    ): Int
    fun vox_messenger_subscribe(
        m: Pointer, ids: LongArray?, n: NativeLong, k: VoxCompletion.ByValue, op: LongByReference?, e: PointerByReference?,
    ): Int
    fun vox_messenger_unsubscribe(
        m: Pointer, ids: LongArray?, n: NativeLong, k: VoxCompletion.ByValue, op: LongByReference?, e: PointerByReference?,
    ): Int
    fun vox_messenger_unsubscribe_from_all(m: Pointer, k: VoxCompletion.ByValue, op: LongByReference?, e: PointerByReference?): Int
    fun vox_messenger_get_subscriptions(m: Pointer, k: VoxCompletion.ByValue, op: LongByReference?, e: PointerByReference?): Int
    fun vox_messenger_manage_push_notifications(
        m: Pointer, kinds: IntArray?, n: NativeLong, k: VoxCompletion.ByValue, op: LongByReference?, e: PointerByReference?,
    ): Int
    fun vox_messenger_create_conversation(
        m: Pointer, cfg: VoxConversationConfig, k: VoxCompletion.ByValue, op: LongByReference?, e: PointerByReference?,
    ): Int
    fun vox_messenger_get_conversation(
        m: Pointer, uuid: String?, k: VoxCompletion.ByValue, op: LongByReference?, e: PointerByReference?,
    ): Int
    fun vox_messenger_get_conversations(
        m: Pointer, uuids: Array<String>?, n: NativeLong, k: VoxCompletion.ByValue, op: LongByReference?, e: PointerByReference?,
    ): Int
    fun vox_messenger_get_public_conversations(m: Pointer, k: VoxCompletion.ByValue, op: LongByReference?, e: PointerByReference?): Int
    fun vox_messenger_join_conversation(
        m: Pointer, uuid: String?, k: VoxCompletion.ByValue, op: LongByReference?, e: PointerByReference?,
    ): Int
    fun vox_messenger_leave_conversation(
        m: Pointer, uuid: String?, k: VoxCompletion.ByValue, op: LongByReference?, e: PointerByReference?,
    ): Int
    fun vox_messenger_recreate_conversation(
        m: Pointer, cfg: VoxConversationConfig, uuid: String?, lastSequence: Long, lastUpdate: Long, created: Long,
        out: PointerByReference, e: PointerByReference?,
    ): Int
    fun vox_messenger_recreate_message(
        m: Pointer, uuid: String?, conversation: String?, text: String?, payload: String?, sequence: Long,
        out: PointerByReference, e: PointerByReference?,
    ): Int
    fun vox_messenger_on(m: Pointer, eventMask: Int, listener: VoxListener.ByValue, outId: LongByReference?): Int
    fun vox_messenger_off(m: Pointer, id: Long): Int
    fun vox_messenger_client(m: Pointer, out: PointerByReference): Int
    fun vox_conversation_client(c: Pointer, out: PointerByReference): Int
    fun vox_message_client(m: Pointer, out: PointerByReference): Int
    fun vox_messenger_free(m: Pointer?): Int
}

/** The loaded library plus the process-wide callback objects (one of each, never collected). */
internal object Vox {
    val lib: VoxLib = Native.load(
        "vox_messenger", VoxLib::class.java,
        mapOf(Library.OPTION_STRING_ENCODING to "UTF-8"),
    )

    /** user_data ids → what a callback delivers to (a completion or a listener sink). */
    private val sinks = ConcurrentHashMap<Long, Any>()
    private val nextId = AtomicLong(1)
    val completionsRun = AtomicLong()
    val releasesRun = AtomicLong()
    val duplicateCompletions = AtomicLong()
    val cancelledCompletions = AtomicLong()

    /** The JVM threads completions ran on (one: the library's callback thread, attached once). */
    val callbackThreads: MutableSet<Thread> = ConcurrentHashMap.newKeySet()

    /** Completions that ran on a thread the library did not call its callback thread (must stay 0). */
    val offThreadCompletions = AtomicLong()

    /** Whether the calling thread is the library's callback thread (`vox_is_callback_thread`). */
    val isCallbackThread: Boolean get() = lib.vox_is_callback_thread().toInt() != 0

    fun register(sink: Any): Pointer {
        val id = nextId.getAndIncrement()
        sinks[id] = sink
        return Pointer(id)
    }

    /** For a start call that failed: the library will never call back for this user_data. */
    fun unregister(userData: Pointer) {
        sinks.remove(Pointer.nativeValue(userData))
    }

    fun pending(): Int = sinks.size

    private fun sink(userData: Pointer?): Any? = userData?.let { sinks[Pointer.nativeValue(it)] }

    val completionFn: CompletionFn = object : CompletionFn {
        override fun invoke(userData: Pointer?, status: Int, error: Pointer?, result: Pointer?) {
            completionsRun.incrementAndGet()
            callbackThreads.add(Thread.currentThread())
            if (lib.vox_is_callback_thread().toInt() == 0) offThreadCompletions.incrementAndGet()
            if (status == VoxStatus.CANCELLED) cancelledCompletions.incrementAndGet()
            val s = sink(userData) as? CompletionSink ?: return
            if (s.calls.incrementAndGet() != 1) {
                duplicateCompletions.incrementAndGet()
                return
            }
            guard { s.complete(status, error, result) }
        }
    }

    val eventFn: EventFn = object : EventFn {
        override fun invoke(userData: Pointer?, event: Pointer?) {
            val s = sink(userData) as? EventSink ?: return
            if (event != null) guard { s.onEvent(event) }
        }
    }

    val clientEventFn: ClientEventFn = object : ClientEventFn {
        override fun invoke(userData: Pointer?, event: Pointer?) {
            val s = sink(userData) as? ClientEventSink ?: return
            if (event == null) return
            val reason = event.getPointer(8)?.getString(0, "UTF-8")
            guard { s.onEvent(ConnectionEvent(event.getInt(0), ClientState.of(event.getInt(4)), reason)) }
        }
    }

    val releaseFn: ReleaseFn = object : ReleaseFn {
        override fun invoke(userData: Pointer?) {
            releasesRun.incrementAndGet()
            val s = userData?.let { sinks.remove(Pointer.nativeValue(it)) }
            if (s is Releasable) guard { s.released() }
        }
    }

    init {
        // The library's single callback thread is attached to the JVM once, as a daemon, and
        // stays attached (detach=false): no attach/detach per callback.
        val init = CallbackThreadInitializer(true, false, "vox-callback")
        for (cb in listOf<Callback>(completionFn, eventFn, clientEventFn, releaseFn)) {
            Native.setCallbackThreadInitializer(cb, init)
        }
    }

    private inline fun guard(block: () -> Unit) {
        try {
            block()
        } catch (t: Throwable) {
            // Never let an exception unwind into native code.
            Thread.currentThread().uncaughtExceptionHandler?.uncaughtException(Thread.currentThread(), t)
        }
    }

    fun completion(userData: Pointer): VoxCompletion.ByValue = VoxCompletion.ByValue().also {
        it.callback = completionFn
        it.user_data = userData
        it.release = releaseFn
    }

    // ---- small helpers over out-parameters ----

    /** Reads and frees a library string. */
    fun takeString(p: Pointer?): String? {
        if (p == null) return null
        if (VoxDirect.available) return VoxDirect.take(Pointer.nativeValue(p))
        try {
            val len = lib.vox_string_len(p).toLong().toInt()
            return String(p.getByteArray(0, len), Charsets.UTF_8)
        } finally {
            lib.vox_string_free(p)
        }
    }

    inline fun string(call: (PointerByReference) -> Int): String {
        val out = PointerByReference()
        check(call(out))
        return takeString(out.value) ?: ""
    }

    /** The string, or null when the object has no value (VOX_ERR_NO_VALUE) or another error. */
    inline fun stringOrNull(call: (PointerByReference) -> Int): String? {
        val out = PointerByReference()
        return if (call(out) == VoxStatus.OK) takeString(out.value) else null
    }

    inline fun long(call: (LongByReference) -> Int): Long {
        val out = LongByReference()
        check(call(out))
        return out.value
    }

    inline fun longOrNull(call: (LongByReference) -> Int): Long? {
        val out = LongByReference()
        return if (call(out) == VoxStatus.OK) out.value else null
    }

    inline fun bool(call: (ByteByReference) -> Int): Boolean {
        val out = ByteByReference()
        check(call(out))
        return out.value.toInt() != 0
    }

    inline fun size(call: (NativeLongByReference) -> Int): Int {
        val out = NativeLongByReference()
        check(call(out))
        return out.value.toInt()
    }

    inline fun handle(call: (PointerByReference) -> Int): Pointer {
        val out = PointerByReference()
        check(call(out))
        return out.value
    }

    fun check(status: Int) {
        if (status != VoxStatus.OK) throw VoxException(status, 0, VoxStatus.name(status))
    }

    /** Throws for a failed call with an owned `vox_error` out-parameter (freed here). */
    fun check(status: Int, err: PointerByReference) {
        if (status == VoxStatus.OK) return
        throw takeError(status, err.value)
    }

    /** An exception from an owned error (freed here). */
    fun takeError(status: Int, err: Pointer?): VoxException {
        if (err == null) return VoxException(status, 0, VoxStatus.name(status))
        try {
            return borrowError(status, err)
        } finally {
            lib.vox_error_free(err)
        }
    }

    /** An exception from an error borrowed for a callback. */
    fun borrowError(status: Int, err: Pointer?): VoxException {
        if (err == null) return VoxException(status, 0, VoxStatus.name(status))
        val code = lib.vox_error_code(err).toLong()
        val message = takeString(lib.vox_error_message(err)) ?: VoxStatus.name(status)
        return VoxException(status, code, message)
    }

    /** `count` participants laid out as `vox_participant[count]` (24 bytes each). */
    fun participants(list: List<Participant>): Memory? {
        if (list.isEmpty()) return null
        val mem = Memory(24L * list.size)
        mem.clear()
        list.forEachIndexed { i, p ->
            val o = 24L * i
            mem.setLong(o, p.imUserId)
            val flags = booleanArrayOf(
                p.canWrite, p.canEditMessages, p.canEditAllMessages, p.canRemoveMessages,
                p.canRemoveAllMessages, p.canManageParticipants, p.owner,
            )
            flags.forEachIndexed { j, f -> mem.setByte(o + 8 + j, if (f) 1 else 0) }
            mem.setLong(o + 16, p.lastReadEventSequence)
        }
        return mem
    }

    fun readParticipant(mem: Pointer): Participant = Participant(
        imUserId = mem.getLong(0),
        canWrite = mem.getByte(8).toInt() != 0,
        canEditMessages = mem.getByte(9).toInt() != 0,
        canEditAllMessages = mem.getByte(10).toInt() != 0,
        canRemoveMessages = mem.getByte(11).toInt() != 0,
        canRemoveAllMessages = mem.getByte(12).toInt() != 0,
        canManageParticipants = mem.getByte(13).toInt() != 0,
        owner = mem.getByte(14).toInt() != 0,
        lastReadEventSequence = mem.getLong(16),
    )
}

internal fun Boolean.toByte(): Byte = if (this) 1 else 0

internal interface Releasable {
    fun released()
}

internal abstract class CompletionSink {
    val calls = AtomicInteger()
    abstract fun complete(status: Int, error: Pointer?, result: Pointer?)
}

internal fun interface EventSink {
    fun onEvent(event: Pointer)
}

internal fun interface ClientEventSink {
    fun onEvent(event: ConnectionEvent)
}
