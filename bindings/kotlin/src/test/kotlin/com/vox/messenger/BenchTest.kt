package com.vox.messenger

import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import org.junit.jupiter.api.Assumptions.assumeTrue
import org.junit.jupiter.api.Test

/**
 * Not a test: timings printed when run with `-Dvox.bench=true`, e.g.
 * `mvn -q -B test -Dtest=BenchTest -Dvox.bench=true`. With `-Dvox.bench.server=ws://…` it uses
 * that server instead of starting one (scripts/bench-bindings.sh runs every binding against one
 * server and reads the `BENCH Kotlin` line).
 */
class BenchTest {
    @Test
    fun timings() = runBlocking {
        assumeTrue(System.getProperty("vox.bench") == "true", "set -Dvox.bench=true")
        val external = System.getProperty("vox.bench.server")?.takeIf { it.isNotEmpty() }
        val server = if (external == null) TestServer() else null
        val url = external ?: server!!.url
        val local = Integer.getInteger("vox.bench.local", 10_000)
        val trips = Integer.getInteger("vox.bench.trips", 1_000)
        try {
            Client(url, ClientConfig(requestSpacingMs = 0)).use { client ->
                withTimeout(30_000) {
                    client.connect()
                    client.login(TestServer.user(1), TestServer.PASSWORD)
                }
                val m = client.messenger
                val id = withTimeout(30_000) { m.getUser("user2@app.acc").imId }
                // Warm-up (JIT, JNA method lookups).
                repeat(2_000) { m.me }
                repeat(50) { withTimeout(30_000) { m.getUser(id) } }

                var t = System.nanoTime()
                repeat(local) { m.me }
                val localNs = System.nanoTime() - t
                val state0 = System.nanoTime()
                repeat(10_000) { client.state }
                val stateNs = System.nanoTime() - state0

                t = System.nanoTime()
                repeat(trips) { withTimeout(30_000) { m.getUser(id) } }
                val rtt = System.nanoTime() - t
                val line = "BENCH kotlin/jna: %d messenger.me (vox_messenger_get_me, whole user) %.1f ms (%.2f us/call); " +
                    "10000 client.state (vox_client_state) %.1f ms (%.2f us/call); " +
                    "%d getUser round trips %.1f ms (%.1f us/trip)"
                println(line.format(local, localNs / 1e6, localNs / 1e3 / local, stateNs / 1e6, stateNs / 1e7, trips, rtt / 1e6, rtt / 1e3 / trips))
                // Machine-readable: BENCH <binding> <local calls> <local total us> <trips> <trips total us>
                println("BENCH Kotlin %d %.1f %d %.1f".format(local, localNs / 1e3, trips, rtt / 1e3))
            }
        } finally {
            server?.close()
        }
    }
}
