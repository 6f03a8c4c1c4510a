// KotlinChat.kt — a console chat written against the Kotlin binding only (see ../chat.sh).
//
//   ./chat.sh ws://127.0.0.1:PORT user1@app.acc.voximplant.com secret [PEER]
//
// With PEER (e.g. user2@app.acc) it opens a conversation with PEER; without, it answers in the
// conversation of the first message it receives (examples/c_chat, the C++ example or the Web
// demo page work as the other side). Type a line to send it, "/quit" to leave. Every incoming
// message, typing notice and read mark is printed.
package com.vox.messenger.examples

import com.vox.messenger.Client
import com.vox.messenger.ClientConfig
import com.vox.messenger.Conversation
import com.vox.messenger.ConversationConfig
import com.vox.messenger.EventType
import com.vox.messenger.Participant
import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.launch
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withContext
import java.util.concurrent.atomic.AtomicReference
import kotlin.system.exitProcess

fun main(args: Array<String>): Unit = runBlocking {
    if (args.size < 3) {
        System.err.println("usage: KotlinChat ws://HOST:PORT USER PASSWORD [PEER]")
        exitProcess(2)
    }
    val (server, user, password) = args
    val peer = args.getOrNull(3)
    Client(server, ClientConfig()).use { client ->
        client.connect()
        val login = client.login(user, password)
        val messenger = client.messenger
        val me = messenger.me!! // the whole current user, without a round trip
        println("logged in as ${me.name} (\"${login.displayName}\")")
        val meId = me.imId
        val replyTo = AtomicReference<Conversation?>()
        if (peer != null) {
            val peerId = messenger.getUser(peer).imId
            replyTo.set(messenger.createConversation(ConversationConfig(listOf(Participant(peerId)), title = "Kotlin console chat")))
        }

        val listening = CompletableDeferred<Unit>()
        val events = launch {
            messenger.events(EventType.SEND_MESSAGE, EventType.TYPING, EventType.READ,
                onListening = { listening.complete(Unit) }).collect { ev ->
                ev.use {
                    if (ev.initiator == meId) return@use
                    when (ev.type) {
                        EventType.SEND_MESSAGE -> {
                            val msg = ev.message ?: return@use
                            println("[${ev.initiator}] ${msg.text}")
                            if (replyTo.get() == null) {
                                replyTo.set(messenger.getConversation(msg.conversationUuid))
                            }
                        }
                        EventType.TYPING -> println("(${ev.initiator} is typing)")
                        EventType.READ -> println("(${ev.initiator} read up to ${ev.sequence})")
                        else -> {}
                    }
                }
            }
        }
        listening.await()
        println(if (peer != null) "conversation with $peer open; type a line to send it" else "waiting for a message; type a line to answer")

        while (true) {
            val line = withContext(Dispatchers.IO) { readlnOrNull() } ?: break
            if (line == "/quit") break
            if (line.isBlank()) continue
            val conv = replyTo.get()
            if (conv == null) {
                println("(no conversation yet)")
                continue
            }
            conv.sendMessage(line).close()
        }
        events.cancel()
        client.disconnect()
        replyTo.get()?.close()
    }
}
