package com.vox.messenger

import java.io.File
import java.nio.file.Files
import java.util.concurrent.TimeUnit

/** The real vox-messenger-server on ephemeral ports (`--dev`: demo users user1..3, password "secret"). */
class TestServer : AutoCloseable {
    private val dir: File = Files.createTempDirectory("vox-kotlin-test").toFile()
    private val process: Process
    val url: String

    init {
        val binary = System.getProperty("vox.server") ?: System.getenv("VOX_SERVER")
            ?: error("set -Dvox.server or VOX_SERVER to the vox-messenger-server binary")
        process = ProcessBuilder(
            binary, "--dev", "--db", File(dir, "db.sqlite3").path,
            "--listen", "127.0.0.1:0", "--plain-listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0",
            "--msg-rate-per-second", "0", "--msg-rate-per-minute", "0",
        ).redirectError(File(dir, "server.log")).start()
        val out = process.inputStream.bufferedReader()
        val line = out.readLine() ?: error("server exited: " + File(dir, "server.log").readText())
        require(line.startsWith("READY ")) { "unexpected first line: $line" }
        val ws = Regex("\"ws\":\"([^\"]+)\"").find(line)?.groupValues?.get(1) ?: error("no ws address in $line")
        url = if (ws.contains("://")) ws else "ws://$ws"
        // Keep draining stdout so the server never blocks on a full pipe.
        Thread({ out.useLines { lines -> lines.forEach { } } }, "server-stdout").apply { isDaemon = true }.start()
    }

    override fun close() {
        process.destroy()
        if (!process.waitFor(10, TimeUnit.SECONDS)) process.destroyForcibly()
        dir.deleteRecursively()
    }

    companion object {
        const val PASSWORD = "secret"
        fun user(n: Int) = "user$n@app.acc.voximplant.com"
    }
}
