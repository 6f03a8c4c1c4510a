package com.vox.messenger

import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import org.junit.jupiter.api.Assumptions.assumeTrue
import org.junit.jupiter.api.Test

/**
 * Not a test: timings printed when run with `-Dvox.bench=true`, e.g.
 * `mvn -q -B test -Dtest=BenchTest -Dvox.bench=true`.
 */
class BenchTest {
    @Test
    fun timings() = runBlocking {
        assumeTrue(System.getProperty("vox.bench") == "true", "set -Dvox.bench=true")
        TestServer().use { server ->
            Client(server.url, ClientConfig(requestSpacingMs = 0)).use { client ->
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
                repeat(10_000) { m.me }
                val local = System.nanoTime() - t
                val state0 = System.nanoTime()
                repeat(10_000) { client.state }
                val stateNs = System.nanoTime() - state0

                t = System.nanoTime()
                repeat(1_000) { withTimeout(30_000) { m.getUser(id) } }
                val rtt = System.nanoTime() - t
                val line = "BENCH kotlin/jna: 10000 messenger.me (vox_messenger_get_me) %.1f ms (%.2f us/call); " +
                    "10000 client.state (vox_client_state) %.1f ms (%.2f us/call); " +
                    "1000 getUser round trips %.1f ms (%.1f us/trip)"
                println(line.format(local / 1e6, local / 1e7, stateNs / 1e6, stateNs / 1e7, rtt / 1e6, rtt / 1e6))
            }
        }
    }
}
