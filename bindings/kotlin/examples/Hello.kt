// Hello.kt — the README's example, compiled with the tests so it stays correct.
package com.vox.messenger.examples

import com.vox.messenger.*
import kotlinx.coroutines.*
import kotlinx.coroutines.flow.first

fun main(): Unit = runBlocking {
    Client("ws://127.0.0.1:8080").use { client ->          // close() disconnects and frees
        client.connect()
        client.login("user1@app.acc.voximplant.com", "secret")
        val messenger = client.messenger
        val bob = messenger.getUser("user2@app.acc")

        // Events are Flows: a listener is registered while the flow is collected.
        val listening = CompletableDeferred<Unit>()
        val echo = async {
            messenger.events(EventType.SEND_MESSAGE, onListening = { listening.complete(Unit) }).first()
        }
        listening.await()
        val chat = messenger.createConversation(
            ConversationConfig(listOf(Participant(bob.imId)), title = "Hello"))
        chat.sendMessage("Hi, Bob!", payload = """[{"kind":"greeting"}]""").close()
        echo.await().use { ev -> println("${ev.initiator}: ${ev.message?.text}") }
        chat.close()
    }
}
