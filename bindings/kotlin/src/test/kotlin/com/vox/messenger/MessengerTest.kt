package com.vox.messenger

import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.CoroutineStart
import kotlinx.coroutines.Job
import kotlinx.coroutines.async
import kotlinx.coroutines.cancelAndJoin
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.channels.ReceiveChannel
import kotlinx.coroutines.delay
import kotlinx.coroutines.flow.Flow
import kotlinx.coroutines.flow.toList
import kotlinx.coroutines.launch
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import org.junit.jupiter.api.AfterAll
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNotNull
import org.junit.jupiter.api.Assertions.assertThrows
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.BeforeAll
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.TestInstance
import kotlin.coroutines.cancellation.CancellationException

private const val TIMEOUT = 15_000L

/** Starts collecting [flow] and returns once its listener is registered. */
suspend fun <T> CoroutineScope.listen(flow: (onListening: () -> Unit) -> Flow<T>): Pair<ReceiveChannel<T>, Job> {
    val ready = CompletableDeferred<Unit>()
    val channel = Channel<T>(Channel.UNLIMITED)
    val job = launch { flow { ready.complete(Unit) }.collect { channel.send(it) } }
    withTimeout(TIMEOUT) { ready.await() }
    return channel to job
}

/** The next item matching [pred] (others are closed if AutoCloseable and skipped). */
suspend fun <T> ReceiveChannel<T>.next(pred: (T) -> Boolean = { true }): T = withTimeout(TIMEOUT) {
    while (true) {
        val item = receive()
        if (pred(item)) return@withTimeout item
        (item as? AutoCloseable)?.close()
    }
    @Suppress("UNREACHABLE_CODE")
    error("unreachable")
}

@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class MessengerTest {
    private lateinit var server: TestServer

    @BeforeAll
    fun start() {
        server = TestServer()
    }

    @AfterAll
    fun stop() {
        server.close()
    }

    private suspend fun loggedIn(n: Int, spacing: Long = 0): Client {
        val client = Client(server.url, ClientConfig(requestSpacingMs = spacing))
        withTimeout(TIMEOUT) {
            client.connect()
            val result = client.login(TestServer.user(n), TestServer.PASSWORD, if (n % 2 == 0) Digest.SHA256 else Digest.MD5)
            assertNotNull(result.displayName)
        }
        assertEquals(ClientState.LOGGED_IN, client.state)
        return client
    }

    @Test
    fun versionAbiAndLog() {
        assertEquals(Client.ABI_VERSION, Client.abiVersion)
        assertTrue(Client.version.isNotEmpty())
        val records = java.util.concurrent.ConcurrentLinkedQueue<String>()
        VoxLog.set(LogLevel.DEBUG) { level, target, message -> records += "$level $target $message" }
        runBlocking { loggedIn(1).close() }
        val releasedBefore = VoxLog.released.get()
        VoxLog.set(LogLevel.OFF, null)
        // The library released the replaced callback exactly once; nothing is kept alive for it.
        runBlocking { withTimeout(TIMEOUT) { while (VoxLog.released.get() == releasedBefore) delay(5) } }
        assertEquals(releasedBefore + 1, VoxLog.released.get())
        assertEquals(0, VoxLog.kept)
        assertFalse(Client.isCallbackThread)
        assertTrue(records.any { it.contains("vox_messenger") }, "log records arrive")
        assertTrue(records.none { it.contains(TestServer.PASSWORD) }, "no password in the log")
        assertEquals(0, VoxDebug.validateJson("{\"a\":1}", 0))
        assertEquals(VoxStatus.INVALID_JSON, VoxDebug.validateJson("[1]", 1))
    }

    @Test
    fun twoUsersChat() = runBlocking {
        val a = loggedIn(1)
        val b = loggedIn(2)
        val ma = a.messenger
        val mb = b.messenger
        val me = ma.me!!
        assertEquals("user1@app.acc", me.name)
        assertEquals("User One", me.displayName)
        assertTrue(me.imId > 0)
        val idA = withTimeout(TIMEOUT) { mb.getUser("user1@app.acc").imId }
        val idB = withTimeout(TIMEOUT) { ma.getUser("user2@app.acc").imId }

        val (bEvents, bJob) = listen {
            mb.events(EventType.CREATE_CONVERSATION, EventType.SEND_MESSAGE, EventType.TYPING,
                EventType.EDIT_MESSAGE, EventType.REMOVE_MESSAGE, onListening = it)
        }
        val (aEvents, aJob) = listen { ma.events(EventType.SEND_MESSAGE, EventType.READ, onListening = it) }

        withTimeout(TIMEOUT) {
            val convA = ma.createConversation(ConversationConfig(listOf(Participant(idB, canWrite = true)), title = "Kotlin test", customData = "{\"from\":\"Kotlin\"}"))
            val uuid = convA.uuid
            assertEquals("Kotlin test", convA.title)

            val created = bEvents.next { it.type == EventType.CREATE_CONVERSATION }
            assertEquals(idA, created.initiator)
            val convB = created.conversation!!
            assertEquals(uuid, convB.uuid)

            // A → B with a payload.
            val sent = convA.sendMessage("Hello, B! é", "[{\"type\":\"greeting\"}]")
            assertEquals("Hello, B! é", sent.text)
            // Conversations and messages know their client (a borrowed handle from the library).
            assertEquals(a.handle, convA.nativeClient)
            assertEquals(a.handle, sent.nativeClient)
            convA.cancel(123_456_789) // unknown ids are ignored
            val got = bEvents.next { it.type == EventType.SEND_MESSAGE }
            val msgB = got.message!!
            assertEquals("Hello, B! é", msgB.text)
            assertEquals(idA, msgB.sender)
            assertEquals("[{\"type\":\"greeting\"}]", msgB.payload)
            assertEquals(uuid, msgB.conversationUuid)

            // B → A; A also hears its own message first.
            val reply = convB.sendMessage("Hi, A")
            val replySeq = reply.sequence
            val atA = aEvents.next { it.type == EventType.SEND_MESSAGE && it.message?.text == "Hi, A" }
            assertEquals(idB, atA.initiator)

            // B marks the reply read; A sees it. A types; B sees it.
            convB.markAsRead(replySeq).close()
            val read = aEvents.next { it.type == EventType.READ }
            assertEquals(replySeq, read.sequence)
            convA.typing().close()
            val typing = bEvents.next { it.type == EventType.TYPING }
            assertEquals(uuid, typing.conversationUuid)
            val discarded = assertThrows(VoxException::class.java) { runBlocking { convA.typing() } }
            assertEquals(VoxStatus.CALL_DISCARDED, discarded.status)

            // A edits and removes its message; B sees both.
            sent.update("Hello again", null).close()
            val edited = bEvents.next { it.type == EventType.EDIT_MESSAGE }
            assertEquals("Hello again", edited.message!!.text)
            sent.remove().close()
            val removed = bEvents.next { it.type == EventType.REMOVE_MESSAGE }
            assertEquals(sent.uuid, removed.message!!.uuid)

            listOf(created, got, atA, read, typing, edited, removed).forEach { it.close() }
            convA.close()
            sent.close()
            reply.close()
        }
        bJob.cancelAndJoin()
        aJob.cancelAndJoin()
        a.close()
        b.close()
    }

    @Test
    fun everyMessengerMethod() = runBlocking {
        val a = loggedIn(1)
        val c = loggedIn(3)
        val m = a.messenger
        val mc = c.messenger
        withTimeout(TIMEOUT) {
            val me = m.getUser("user1@app.acc")
            assertEquals(me.imId, m.getUser(me.imId).imId)
            val users = m.getUsers(listOf("user2@app.acc", "user3@app.acc"))
            assertEquals(listOf("user2@app.acc", "user3@app.acc"), users.map { it.name.substringBefore(".voximplant") })
            val byId = m.getUsersByImId(users.map { it.imId })
            assertEquals(users.map { it.imId }, byId.map { it.imId })
            val edited = m.editUser(customData = "{\"lang\":\"kotlin\"}", privateCustomData = "{\"secret\":1}")
            assertTrue(edited.customData.contains("kotlin"), edited.customData)
            m.setStatus(true).use { assertEquals(true, it.isOnline) }
            val ids = users.map { it.imId }
            assertEquals(ids.toSet(), m.subscribe(ids).toSet())
            assertTrue(m.getSubscriptions().containsAll(ids))
            m.unsubscribe(listOf(ids[0]))
            m.unsubscribeFromAll()
            assertTrue(m.getSubscriptions().isEmpty())
            m.managePushNotifications(setOf(NotificationKind.SEND_MESSAGE, NotificationKind.CREATE_CONVERSATION))

            // A public conversation user3 joins and leaves.
            val pub = m.createConversation(ConversationConfig(listOf(Participant(ids[0])), title = "public", publicJoin = true))
            val uuid = pub.uuid
            assertTrue(pub.isPublicJoin)
            assertTrue(uuid in m.getPublicConversations())
            mc.joinConversation(uuid).close()
            assertTrue(m.getConversation(uuid).use { conv -> conv.participants.any { it.imUserId == users[1].imId } })
            mc.leaveConversation(uuid).close()
            val list = m.getConversations(listOf(uuid))
            assertEquals(listOf(uuid), list.map { it.uuid })
            list.forEach { it.close() }

            // Conversation calls.
            pub.title = "renamed"
            pub.customData = "{\"n\":1}"
            pub.update().use { assertEquals("renamed", it.conversation?.title) }
            pub.addParticipants(listOf(Participant(users[1].imId, canWrite = true))).close()
            pub.editParticipants(listOf(Participant(users[1].imId, canWrite = true, canEditMessages = true))).close()
            assertTrue(pub.participants.isNotEmpty())
            assertTrue(pub.copy().use { it.uuid == uuid })
            pub.removeParticipants(listOf(users[1].imId)).close()
            val msg = pub.sendMessage("one")
            val msgSeq = msg.sequence
            pub.sendMessage("two").close()
            val history = pub.retransmitEvents(1, msg.sequence + 1)
            assertTrue(history.items.isNotEmpty())
            assertEquals(1L..msg.sequence + 1, history.retransmitRange)
            history.close()
            pub.retransmitEventsFrom(1, 10).use { assertTrue(it.items.isNotEmpty()) }
            pub.retransmitEventsTo(msg.sequence, 10).use { assertTrue(it.items.isNotEmpty()) }
            msg.close()

            pub.use {
                assertEquals(false, it.isDirect)
                assertEquals(false, it.isUber)
                assertTrue(it.lastUpdateTime >= it.createdTime)
                assertTrue(it.lastSequence in 1..msgSeq) // a snapshot taken at creation
            }
            // Local objects from cached values.
            val again = m.recreateConversation(ConversationConfig(title = "cached"), uuid, 5, 1_700_000_000, 1_600_000_000)
            assertEquals(uuid, again.uuid)
            assertEquals(1_600_000_000, again.createdTime)
            again.close()
            val cached = m.recreateMessage("11111111-1111-4111-8111-111111111111", uuid, "cached", "[{\"a\":1}]", 3)
            assertEquals(3, cached.sequence)
            assertEquals(0, cached.sender)
            cached.close()
            pub.close()

            // Errors.
            val unknown = assertThrows(VoxException::class.java) {
                runBlocking { m.getConversation("00000000-0000-4000-8000-000000000000") }
            }
            assertEquals(VoxStatus.MESSENGER, unknown.status)
            assertTrue(unknown.code in 1..9999)
            val badJson = assertThrows(VoxException::class.java) { runBlocking { m.editUser(customData = "{not json") } }
            assertEquals(VoxStatus.INVALID_JSON, badJson.status)
        }
        a.close()
        c.close()
    }

    @Test
    fun loginVariantsAndConnectionEvents() = runBlocking {
        val client = Client(server.url, ClientConfig(requestSpacingMs = 0, requestTimeoutMs = 10_000, connectTimeoutMs = 5_000))
        val (events, job) = listen { client.connectionEvents(it) }
        withTimeout(TIMEOUT) {
            client.connect()
            events.next { it.state == ClientState.CONNECTED }
            val wrong = assertThrows(VoxException::class.java) { runBlocking { client.login(TestServer.user(1), "wrong") } }
            assertEquals(VoxStatus.LOGIN_FAILED, wrong.status)
            assertEquals(401, wrong.code)
            val result = client.login(TestServer.user(1), TestServer.PASSWORD, Digest.SHA256, LoginOptions(receiveCalls = false))
            events.next { it.state == ClientState.LOGGED_IN }
            client.notifyNetworkChanged()
            client.disconnect()
            events.next { it.state == ClientState.DISCONNECTED }

            if (result.accessToken != null && result.refreshToken != null) {
                Client(server.url).use { other ->
                    other.connect()
                    other.loginWithToken(TestServer.user(1), result.accessToken!!)
                    assertEquals(ClientState.LOGGED_IN, other.state)
                    val refreshed = other.refreshToken(TestServer.user(1), result.refreshToken!!)
                    assertNotNull(refreshed.accessToken)
                }
            } else {
                println("server issued no tokens: token login not exercised")
            }
            Client(server.url).use { otk ->
                otk.connect()
                val key = otk.requestOneTimeLoginKey(TestServer.user(3))
                val hash = Client.oneTimeKeyHash(key, "user3", TestServer.PASSWORD)
                otk.loginWithOneTimeKey(TestServer.user(3), hash)
                assertEquals("user3@app.acc", otk.messenger.me?.name)
            }
        }
        job.cancelAndJoin()
        client.close()
    }

    @Test
    fun cancellation() = runBlocking {
        // The default 220 ms request spacing queues the second request: cancelling it recalls it.
        val a = loggedIn(1, spacing = 220)
        val m = a.messenger
        val id = withTimeout(TIMEOUT) { m.getUser("user2@app.acc").imId }
        val cancelledBefore = Vox.cancelledCompletions.get()
        val pendingBefore = VoxDebug.pendingCallbacks
        withTimeout(TIMEOUT) {
            // UNDISPATCHED: both requests are started (vox_ calls made) before we go on.
            val first = async(start = CoroutineStart.UNDISPATCHED) { m.getUser(id) }
            val second = async(start = CoroutineStart.UNDISPATCHED) { m.getUser(id) }
            second.cancel()
            val e = runCatching { second.await() }.exceptionOrNull()
            assertTrue(e is CancellationException, "cancelled call throws CancellationException, got $e")
            assertEquals(id, first.await().imId)
            // The completion ran (with CANCELLED) and its user_data was released exactly once.
            while (VoxDebug.pendingCallbacks > pendingBefore) delay(5)
        }
        assertTrue(Vox.cancelledCompletions.get() > cancelledBefore, "the operation completed with CANCELLED")
        assertEquals(0, VoxDebug.duplicateCompletions)
        // The client stays usable.
        withTimeout(TIMEOUT) { assertEquals(id, m.getUser(id).imId) }
        a.close()
    }

    @Test
    fun closeAndCleaner() = runBlocking {
        val a = loggedIn(1)
        val m = a.messenger
        val (events, job) = listen { m.events(EventType.SEND_MESSAGE, onListening = it) }
        // Close with a request in flight: it completes (OK or CONNECTION_CLOSED), the event flow ends.
        val pendingBefore = VoxDebug.pendingCallbacks
        val inflight = async(start = CoroutineStart.UNDISPATCHED) { runCatching { m.getUser("user2@app.acc") } }
        a.close()
        a.close() // idempotent
        withTimeout(TIMEOUT) {
            val r = inflight.await()
            r.exceptionOrNull()?.let { assertEquals(VoxStatus.CONNECTION_CLOSED, (it as VoxException).status) }
            job.join() // the flow ended when the client was freed
            events.cancel()
        }
        val afterClose = assertThrows(VoxException::class.java) { a.state }
        assertEquals(VoxStatus.INVALID_HANDLE, afterClose.status)
        withTimeout(TIMEOUT) { while (VoxDebug.pendingCallbacks > pendingBefore) delay(5) }

        // Cleaner: forgotten objects are freed once unreachable.
        val b = loggedIn(2)
        val mb = b.messenger
        // Keep only the raw handles: generation-checked, they answer INVALID_HANDLE once freed.
        fun makeGarbage(): List<com.sun.jna.Pointer> {
            val conv = java.util.UUID.randomUUID().toString()
            return List(100) { mb.recreateMessage(java.util.UUID.randomUUID().toString(), conv, "x", null, 1).handle }
        }
        val raw = makeGarbage()
        fun freed(p: com.sun.jna.Pointer) =
            Vox.lib.vox_message_sequence(p, com.sun.jna.ptr.LongByReference()) == VoxStatus.INVALID_HANDLE
        withTimeout(TIMEOUT) {
            while (!raw.all(::freed)) {
                System.gc()
                delay(10)
            }
        }
        b.close()
    }

    @Test
    fun configOptionsAndForgottenClient() = runBlocking {
        // Fallback servers and a reconnect schedule: the first (dead) server is skipped.
        val config = ClientConfig(
            fallbackServers = listOf(server.url),
            requestSpacingMs = 0,
            requestTimeoutMs = 5_000,
            connectTimeoutMs = 2_000,
            reconnectDelaysMs = listOf(100, 200),
            reconnectJitterPercent = 10,
        )
        Client("ws://127.0.0.1:1", config).use { client ->
            withTimeout(TIMEOUT) {
                client.connect()
                client.login(TestServer.user(1), TestServer.PASSWORD)
            }
        }
        val bad = assertThrows(VoxException::class.java) { Client("ftp://nowhere") }
        assertEquals(VoxStatus.INVALID_ARGUMENT, bad.status)
        val tls = assertThrows(VoxException::class.java) {
            Client("wss://127.0.0.1:1", ClientConfig(customCaPem = "not a certificate"))
        }
        assertEquals(VoxStatus.TLS, tls.status)
        Client("wss://127.0.0.1:1", ClientConfig(pinnedCertificate = ByteArray(16) { it.toByte() })).close()

        // A forgotten client (and its messenger) is freed by the Cleaner.
        fun forget(): Pair<com.sun.jna.Pointer, com.sun.jna.Pointer> {
            val c = Client(server.url)
            return c.handle to c.messenger.handle
        }
        val (clientHandle, messengerHandle) = forget()
        val out = com.sun.jna.ptr.IntByReference()
        val me = com.sun.jna.ptr.PointerByReference()
        withTimeout(TIMEOUT) {
            while (Vox.lib.vox_client_state(clientHandle, out) != VoxStatus.INVALID_HANDLE ||
                Vox.lib.vox_messenger_get_me(messengerHandle, me) != VoxStatus.INVALID_HANDLE
            ) {
                System.gc()
                delay(10)
            }
        }
    }

    @Test
    fun flowUnregistersWhenCollectionStops() = runBlocking {
        val a = loggedIn(1)
        // Earlier tests' completions and listeners are all released (none leaked).
        withTimeout(TIMEOUT) { while (VoxDebug.pendingCallbacks != 0) delay(5) }
        val pendingBefore = VoxDebug.pendingCallbacks
        // Every type: ONE listener registered for an event mask of all 18 types.
        val (_, job) = listen { a.messenger.events(onListening = it) }
        assertEquals(pendingBefore + 1, VoxDebug.pendingCallbacks)
        job.cancelAndJoin()
        withTimeout(TIMEOUT) { while (VoxDebug.pendingCallbacks > pendingBefore) delay(5) }
        a.close()
        // A flow collected after close fails at once.
        assertThrows(VoxException::class.java) { runBlocking { a.messenger.events().toList() } }
        Unit
    }

    @AfterAll
    fun noDuplicates() {
        assertEquals(0, VoxDebug.duplicateCompletions)
        // The library agrees: every completion ran on its callback thread.
        assertEquals(0L, Vox.offThreadCompletions.get())
        // Every completion ran on one thread, attached to the JVM once (a daemon, never detached).
        val threads = Vox.callbackThreads.toList()
        assertEquals(1, threads.size, "callback threads: $threads")
        assertTrue(threads[0].isDaemon)
        assertEquals("vox-callback", threads[0].name)
    }
}
