package com.vox.messenger

import com.sun.jna.Library
import com.sun.jna.Native
import com.sun.jna.NativeLibrary
import com.sun.jna.Pointer

/**
 * JNA direct mapping (static native methods bound with Native.register) for the hot local
 * accessors: no proxy, no reflection, and out-parameters as one-element primitive arrays instead
 * of per-call native allocations. Used on 64-bit platforms (a `char*` out-parameter is read from a
 * `long[1]`, `size_t` returned as a Java long); elsewhere, or with `-Dvox.jna.direct=false`, the
 * interface mapping in [VoxLib] is used.
 */
@Suppress("FunctionName")
internal object VoxDirect {
    val available: Boolean = System.getProperty("vox.jna.direct") != "false" && Native.POINTER_SIZE == 8 && Native.SIZE_T_SIZE == 8 && try {
        Native.register(
            VoxDirect::class.java,
            NativeLibrary.getInstance("vox_messenger", mapOf(Library.OPTION_STRING_ENCODING to "UTF-8")),
        )
        true
    } catch (_: Throwable) {
        false
    }

    @JvmStatic external fun vox_string_len(s: Long): Long
    @JvmStatic external fun vox_string_free(s: Long)
    @JvmStatic external fun vox_client_state(c: Pointer, out: IntArray): Int
    @JvmStatic external fun vox_messenger_get_me(m: Pointer, out: LongArray): Int
    // vox_user accessors (the user as an address: `messenger.me` reads every field here).
    @JvmStatic external fun vox_user_name(u: Long, out: LongArray): Int
    @JvmStatic external fun vox_user_im_id(u: Long, out: LongArray): Int
    @JvmStatic external fun vox_user_display_name(u: Long, out: LongArray): Int
    @JvmStatic external fun vox_user_custom_data(u: Long, out: LongArray): Int
    @JvmStatic external fun vox_user_private_custom_data(u: Long, out: LongArray): Int
    @JvmStatic external fun vox_user_is_deleted(u: Long, out: ByteArray): Int
    @JvmStatic external fun vox_user_list_count(u: Long, which: Int, out: LongArray): Int
    @JvmStatic external fun vox_user_list_at(u: Long, which: Int, index: Long, out: LongArray): Int
    @JvmStatic external fun vox_user_free(u: Long): Int
    @JvmStatic external fun vox_message_uuid(m: Pointer, out: LongArray): Int
    @JvmStatic external fun vox_message_conversation(m: Pointer, out: LongArray): Int
    @JvmStatic external fun vox_message_text(m: Pointer, out: LongArray): Int
    @JvmStatic external fun vox_message_payload(m: Pointer, out: LongArray): Int
    @JvmStatic external fun vox_message_sender(m: Pointer, out: LongArray): Int
    @JvmStatic external fun vox_message_sequence(m: Pointer, out: LongArray): Int
    @JvmStatic external fun vox_conversation_uuid(c: Pointer, out: LongArray): Int
    @JvmStatic external fun vox_conversation_title(c: Pointer, out: LongArray): Int
    @JvmStatic external fun vox_conversation_last_sequence(c: Pointer, out: LongArray): Int
    @JvmStatic external fun vox_event_type(ev: Pointer, out: IntArray): Int
    @JvmStatic external fun vox_event_action(ev: Pointer, out: LongArray): Int
    @JvmStatic external fun vox_event_initiator(ev: Pointer, out: LongArray): Int
    @JvmStatic external fun vox_event_sequence(ev: Pointer, out: LongArray): Int
    @JvmStatic external fun vox_event_timestamp(ev: Pointer, out: LongArray): Int
    @JvmStatic external fun vox_event_conversation_uuid(ev: Pointer, out: LongArray): Int

    /** Reads and frees the library string at address [s]. */
    fun take(s: Long): String? {
        if (s == 0L) return null
        try {
            val len = vox_string_len(s).toInt()
            return String(Pointer(s).getByteArray(0, len), Charsets.UTF_8)
        } finally {
            vox_string_free(s)
        }
    }

    inline fun string(call: (LongArray) -> Int): String {
        val out = LongArray(1)
        Vox.check(call(out))
        return take(out[0]) ?: ""
    }

    inline fun stringOrNull(call: (LongArray) -> Int): String? {
        val out = LongArray(1)
        return if (call(out) == VoxStatus.OK) take(out[0]) else null
    }

    inline fun long(call: (LongArray) -> Int): Long {
        val out = LongArray(1)
        Vox.check(call(out))
        return out[0]
    }

    /** Reads the `vox_user*` at address [u] (not freed here). */
    fun user(u: Long): User {
        val out = LongArray(1)
        fun list(which: Int): List<String> {
            Vox.check(vox_user_list_count(u, which, out))
            val n = out[0].toInt()
            return List(n) { i -> string { vox_user_list_at(u, which, i.toLong(), it) } }
        }
        val deleted = ByteArray(1)
        Vox.check(vox_user_is_deleted(u, deleted))
        return User(
            name = string { vox_user_name(u, it) },
            imId = long { vox_user_im_id(u, it) },
            displayName = string { vox_user_display_name(u, it) },
            customData = string { vox_user_custom_data(u, it) },
            privateCustomData = stringOrNull { vox_user_private_custom_data(u, it) },
            isDeleted = deleted[0].toInt() != 0,
            conversations = list(0),
            leftConversations = list(1),
            notifications = list(2),
        )
    }

    inline fun longOrNull(call: (LongArray) -> Int): Long? {
        val out = LongArray(1)
        return if (call(out) == VoxStatus.OK) out[0] else null
    }
}
