package com.vox.messenger

import com.sun.jna.NativeLong
import com.sun.jna.Pointer
import com.sun.jna.ptr.LongByReference
import com.sun.jna.ptr.PointerByReference
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.channels.awaitClose
import kotlinx.coroutines.flow.Flow
import kotlinx.coroutines.flow.buffer
import kotlinx.coroutines.flow.callbackFlow

/**
 * The messenger of a [Client] (`vox_messenger`): users, subscriptions, conversations and the
 * event streams. Get it from [Client.messenger].
 */
class Messenger internal constructor(handle: Pointer, val client: Client) :
    NativeObject(handle, { Vox.lib.vox_messenger_free(it) }) {

    /**
     * The logged-in user with every field (name, IM id, display name, custom data, lists), or
     * null before login. Local: the library fetched the user at login and keeps it up to date.
     */
    val me: User?
        get() {
            if (VoxDirect.available) {
                val addr = LongArray(1)
                val status = VoxDirect.vox_messenger_get_me(handle, addr)
                if (status == VoxStatus.NO_VALUE) return null
                Vox.check(status)
                try {
                    return VoxDirect.user(addr[0])
                } finally {
                    VoxDirect.vox_user_free(addr[0])
                }
            }
            val out = PointerByReference()
            val status = Vox.lib.vox_messenger_get_me(handle, out)
            if (status == VoxStatus.NO_VALUE) return null
            Vox.check(status)
            try {
                return User.read(out.value)
            } finally {
                Vox.lib.vox_user_free(out.value)
            }
        }

    suspend fun getUser(name: String): User = runOp(client, ::userOf) { k, op, e ->
        Vox.lib.vox_messenger_get_user_by_name(handle, name, k, op, e)
    }

    suspend fun getUser(imId: Long): User = runOp(client, ::userOf) { k, op, e ->
        Vox.lib.vox_messenger_get_user_by_im_id(handle, imId, k, op, e)
    }

    /** Up to 50 users, in the order asked. */
    suspend fun getUsers(names: List<String>): List<User> = runOp(client, ::usersOf) { k, op, e ->
        Vox.lib.vox_messenger_get_users_by_name(handle, names.toTypedArray(), NativeLong(names.size.toLong()), k, op, e)
    }

    /** Up to 50 users by IM id, in the order asked. */
    suspend fun getUsersByImId(ids: List<Long>): List<User> = runOp(client, ::usersOf) { k, op, e ->
        Vox.lib.vox_messenger_get_users_by_im_id(handle, ids.toLongArray(), NativeLong(ids.size.toLong()), k, op, e)
    }

    /** Edits the current user's custom data (JSON object text; null leaves a field unchanged). */
    suspend fun editUser(customData: String? = null, privateCustomData: String? = null): User =
        runOp(client, ::userOf) { k, op, e ->
            Vox.lib.vox_messenger_edit_user(handle, customData, privateCustomData, k, op, e)
        }

    suspend fun setStatus(online: Boolean): MessengerEvent = runEvent(client) { k, op, e ->
        Vox.lib.vox_messenger_set_status(handle, online.toByte(), k, op, e)
    }

    /** Subscribes to the presence and edits of these users; returns the ids subscribed. */
    suspend fun subscribe(ids: List<Long>): List<Long> = runOp(client, ::idsOf) { k, op, e ->
        Vox.lib.vox_messenger_subscribe(handle, ids.toLongArray(), NativeLong(ids.size.toLong()), k, op, e)
    }

    suspend fun unsubscribe(ids: List<Long>): List<Long> = runOp(client, ::idsOf) { k, op, e ->
        Vox.lib.vox_messenger_unsubscribe(handle, ids.toLongArray(), NativeLong(ids.size.toLong()), k, op, e)
    }

    suspend fun unsubscribeFromAll(): List<Long> = runOp(client, ::idsOf) { k, op, e ->
        Vox.lib.vox_messenger_unsubscribe_from_all(handle, k, op, e)
    }

    /** The IM ids the current user is subscribed to. */
    suspend fun getSubscriptions(): List<Long> = runOp(client, ::idsOf) { k, op, e ->
        Vox.lib.vox_messenger_get_subscriptions(handle, k, op, e)
    }

    suspend fun managePushNotifications(kinds: Set<NotificationKind>): User = runOp(client, ::userOf) { k, op, e ->
        val arr = kinds.map { it.value }.toIntArray()
        Vox.lib.vox_messenger_manage_push_notifications(handle, arr, NativeLong(arr.size.toLong()), k, op, e)
    }

    suspend fun createConversation(config: ConversationConfig): Conversation =
        runOp(client, ::conversationOf, { it.close() }) { k, op, e ->
            Vox.lib.vox_messenger_create_conversation(handle, config.native(), k, op, e)
        }

    suspend fun getConversation(uuid: String): Conversation =
        runOp(client, ::conversationOf, { it.close() }) { k, op, e ->
            Vox.lib.vox_messenger_get_conversation(handle, uuid, k, op, e)
        }

    /** Up to 30 conversations, in the order asked. */
    suspend fun getConversations(uuids: List<String>): List<Conversation> =
        runOp(client, { ev -> MessengerEvent.read(ev!!, client).items.map { it.conversation!! } }, { l -> l.forEach { it.close() } }) { k, op, e ->
            Vox.lib.vox_messenger_get_conversations(handle, uuids.toTypedArray(), NativeLong(uuids.size.toLong()), k, op, e)
        }

    /** The uuids of every public conversation. */
    suspend fun getPublicConversations(): List<String> = runOp(client, { ev ->
        val n = Vox.size { Vox.lib.vox_event_conversation_list_count(ev!!, it) }
        List(n) { i -> Vox.string { Vox.lib.vox_event_conversation_list_at(ev!!, NativeLong(i.toLong()), it) } }
    }) { k, op, e -> Vox.lib.vox_messenger_get_public_conversations(handle, k, op, e) }

    suspend fun joinConversation(uuid: String): MessengerEvent = runEvent(client) { k, op, e ->
        Vox.lib.vox_messenger_join_conversation(handle, uuid, k, op, e)
    }

    suspend fun leaveConversation(uuid: String): MessengerEvent = runEvent(client) { k, op, e ->
        Vox.lib.vox_messenger_leave_conversation(handle, uuid, k, op, e)
    }

    /** A conversation object from values cached earlier (no network). */
    fun recreateConversation(
        config: ConversationConfig,
        uuid: String,
        lastSequence: Long,
        lastUpdateTime: Long,
        createdTime: Long,
    ): Conversation {
        val out = PointerByReference()
        val err = PointerByReference()
        Vox.check(
            Vox.lib.vox_messenger_recreate_conversation(
                handle, config.native(), uuid, lastSequence, lastUpdateTime, createdTime, out, err,
            ),
            err,
        )
        return Conversation(out.value, client)
    }

    /** A message object from values cached earlier (no network). */
    fun recreateMessage(uuid: String, conversationUuid: String, text: String, payload: String? = null, sequence: Long): Message {
        val out = PointerByReference()
        val err = PointerByReference()
        Vox.check(Vox.lib.vox_messenger_recreate_message(handle, uuid, conversationUuid, text, payload, sequence, out, err), err)
        return Message(out.value, client)
    }

    /**
     * The events of these [types], in server order (including the echoes of this client's own
     * requests). One listener per type is registered when collection starts ([onListening] runs
     * right after: events from then on are delivered) and removed when collection stops; the
     * flow ends when the client is closed. Buffered without limit: the library's callback thread
     * never waits for a slow collector. Close the events (or their conversation / message).
     */
    fun events(vararg types: EventType, onListening: (() -> Unit)? = null): Flow<MessengerEvent> = callbackFlow {
        val wanted = if (types.isEmpty()) EventType.entries.toTypedArray() else types
        // One registration for every wanted type: bit (1 shl type) of the event mask.
        val mask = wanted.fold(0) { m, t -> m or (1 shl t.value) }
        val sink = object : EventSink, Releasable {
            override fun onEvent(event: Pointer) {
                val e = MessengerEvent.read(event, client)
                if (trySend(e).isFailure) e.close()
            }

            override fun released() {
                channel.close()
            }
        }
        val userData = Vox.register(sink)
        val listener = VoxListener.ByValue().also {
            it.callback = Vox.eventFn
            it.user_data = userData
            it.release = Vox.releaseFn
        }
        val id = LongByReference()
        val status = Vox.lib.vox_messenger_on(handle, mask, listener, id)
        if (status != VoxStatus.OK) {
            Vox.unregister(userData)
            throw VoxException(status, 0, "vox_messenger_on(${wanted.joinToString()}) failed")
        }
        onListening?.invoke()
        awaitClose { Vox.lib.vox_messenger_off(handle, id.value) }
    }.buffer(Channel.UNLIMITED)

    private fun userOf(ev: Pointer?): User {
        val u = Vox.handle { Vox.lib.vox_event_user(ev!!, it) }
        try {
            return User.read(u)
        } finally {
            Vox.lib.vox_user_free(u)
        }
    }

    private fun usersOf(ev: Pointer?): List<User> {
        val n = Vox.size { Vox.lib.vox_event_item_count(ev!!, it) }
        return List(n) { i ->
            val item = Vox.handle { Vox.lib.vox_event_item_at(ev!!, NativeLong(i.toLong()), it) }
            try {
                userOf(item)
            } finally {
                Vox.lib.vox_event_free(item)
            }
        }
    }

    private fun idsOf(ev: Pointer?): List<Long> {
        val n = Vox.size { Vox.lib.vox_event_user_id_count(ev!!, it) }
        return List(n) { i -> Vox.long { Vox.lib.vox_event_user_id_at(ev!!, NativeLong(i.toLong()), it) } }
    }

    private fun conversationOf(ev: Pointer?): Conversation =
        Conversation(Vox.handle { Vox.lib.vox_event_conversation(ev!!, it) }, client)
}

internal fun ConversationConfig.native(): VoxConversationConfig {
    val mem = Vox.participants(participants)
    return VoxConversationConfig().also {
        it.participants = mem
        it.participant_count = NativeLong(participants.size.toLong())
        it.title = title
        it.direct = direct.toByte()
        it.public_join = publicJoin.toByte()
        it.uber = uber.toByte()
        it.custom_data_json = customData
    }
}
