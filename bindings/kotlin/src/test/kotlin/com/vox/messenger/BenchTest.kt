package com.vox.messenger

import com.vox.messenger.examples.runBench
import org.junit.jupiter.api.Assumptions.assumeTrue
import org.junit.jupiter.api.Test

/**
 * Not a test: timings printed when run with `-Dvox.bench=true`, e.g.
 * `mvn -q -B test -Dtest=BenchTest -Dvox.bench=true` (against a server of its own). The same
 * workload runs in scripts/bench-bindings.sh next to Rust, C and C++ against one server
 * (examples/KotlinBench.kt).
 */
class BenchTest {
    @Test
    fun timings() {
        assumeTrue(System.getProperty("vox.bench") == "true", "set -Dvox.bench=true")
        TestServer().use { server -> runBench(server.url).forEach { println("BENCH $it") } }
    }
}
