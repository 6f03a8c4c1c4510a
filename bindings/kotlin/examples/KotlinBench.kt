// The Kotlin row of scripts/bench-bindings.sh (not a test): against a running server, through the
// Kotlin wrapper only, `local` reads of `messenger.me` (vox_messenger_get_me: the whole current
// user, no network) and `trips` sequential getUser round trips, after a warm-up. BenchTest runs
// the same function against a server of its own.
//   java … com.vox.messenger.examples.KotlinBenchKt ws://HOST:PORT [10000] [1000]
package com.vox.messenger.examples

import com.vox.messenger.Client
import com.vox.messenger.ClientConfig
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout

/** Runs both workloads; returns the human-readable line and the machine-readable `BENCH Kotlin …` line. */
fun runBench(url: String, local: Int = 10_000, trips: Int = 1_000): List<String> = runBlocking {
    Client(url, ClientConfig(requestSpacingMs = 0)).use { client ->
        withTimeout(30_000) {
            client.connect()
            client.login("user1@app.acc.voximplant.com", "secret")
        }
        val m = client.messenger
        val id = withTimeout(30_000) { m.getUser("user2@app.acc").imId }
        // Warm-up (JIT, JNA method lookups).
        repeat(2_000) { m.me }
        repeat(50) { withTimeout(30_000) { m.getUser(id) } }

        var t = System.nanoTime()
        var n = 0L
        repeat(local) { n += m.me!!.name.length }
        val localNs = System.nanoTime() - t
        val state0 = System.nanoTime()
        repeat(10_000) { client.state }
        val stateNs = System.nanoTime() - state0

        t = System.nanoTime()
        repeat(trips) { n += withTimeout(30_000) { m.getUser(id) }.name.length }
        val rtt = System.nanoTime() - t
        check(n > 0)
        val line = "Kotlin/JNA: %d messenger.me (vox_messenger_get_me, whole user) %.1f ms (%.2f us/call); " +
            "10000 client.state (vox_client_state) %.1f ms (%.2f us/call); " +
            "%d getUser round trips %.1f ms (%.1f us/trip)"
        listOf(
            line.format(local, localNs / 1e6, localNs / 1e3 / local, stateNs / 1e6, stateNs / 1e7, trips, rtt / 1e6, rtt / 1e3 / trips),
            // Machine-readable: BENCH <binding> <local calls> <local total us> <trips> <trips total us>
            "BENCH Kotlin %d %.1f %d %.1f".format(local, localNs / 1e3, trips, rtt / 1e3),
        )
    }
}

fun main(args: Array<String>) {
    if (args.isEmpty()) {
        System.err.println("usage: KotlinBench ws://HOST:PORT [local_calls] [round_trips]")
        kotlin.system.exitProcess(2)
    }
    runBench(args[0], args.getOrNull(1)?.toInt() ?: 10_000, args.getOrNull(2)?.toInt() ?: 1_000).forEach(::println)
}
