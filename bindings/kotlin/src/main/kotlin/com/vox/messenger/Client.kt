package com.vox.messenger

import com.sun.jna.NativeLong
import com.sun.jna.Pointer
import com.sun.jna.ptr.IntByReference
import com.sun.jna.ptr.LongByReference
import com.sun.jna.ptr.PointerByReference
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.channels.awaitClose
import kotlinx.coroutines.flow.Flow
import kotlinx.coroutines.flow.buffer
import kotlinx.coroutines.flow.callbackFlow

/** Client settings (`vox_client_config_*`). Null / empty leaves the library's default. */
data class ClientConfig(
    val fallbackServers: List<String> = emptyList(),
    val requestTimeoutMs: Long? = null,
    val connectTimeoutMs: Long? = null,
    /** Minimum spacing of messaging requests (default 220 ms, as the Web SDK; 0 sends at once). */
    val requestSpacingMs: Long? = null,
    /** Delays before each reconnect attempt; an empty list disables reconnecting. */
    val reconnectDelaysMs: List<Long>? = null,
    val reconnectJitterPercent: Int = 0,
    /** PEM text of the only CA certificates to trust for wss. */
    val customCaPem: String? = null,
    /** PEM or DER bytes of the only server certificate to accept for wss. */
    val pinnedCertificate: ByteArray? = null,
)

/**
 * One connection to a Voximplant-compatible server (`vox_client`): `ws://host:port`,
 * `wss://host:port` or `host:port` (wss). All methods are thread-safe; suspending methods can be
 * cancelled (the operation is cancelled with `vox_cancel`). [close] disconnects and frees the
 * client: pending operations fail with [VoxStatus.CONNECTION_CLOSED].
 */
class Client private constructor(handle: Pointer) : NativeObject(handle, { Vox.lib.vox_client_free(it) }) {

    constructor(server: String, config: ClientConfig = ClientConfig()) : this(create(server, config))

    /** The messenger of this client (one handle, freed with the client). */
    private val messengerLazy = lazy { Messenger(Vox.handle { Vox.lib.vox_client_messenger(handle, it) }, this) }
    val messenger: Messenger by messengerLazy

    /** Disconnects and frees the client (and its messenger handle). Idempotent. */
    override fun close() {
        super.close()
        if (messengerLazy.isInitialized()) messenger.close()
    }

    val state: ClientState
        get() {
            if (VoxDirect.available) {
                val out = IntArray(1)
                Vox.check(VoxDirect.vox_client_state(handle, out))
                return ClientState.of(out[0])
            }
            val out = IntByReference()
            Vox.check(Vox.lib.vox_client_state(handle, out))
            return ClientState.of(out.value)
        }

    /** Connects to the first server that accepts; returns once the session is established. */
    suspend fun connect() = runUnit(this) { k, op, e -> Vox.lib.vox_client_connect(handle, k, op, e) }

    /** Closes the session gracefully; pending operations fail with CONNECTION_CLOSED. */
    suspend fun disconnect() = runUnit(this) { k, op, e -> Vox.lib.vox_client_disconnect(handle, k, op, e) }

    fun notifyNetworkChanged() = Vox.check(Vox.lib.vox_client_notify_network_changed(handle))

    /** Logs in with a password (hashed locally, never sent). Throws [VoxException] LOGIN_FAILED. */
    suspend fun login(
        user: String,
        password: String,
        digest: Digest = Digest.SHA256,
        options: LoginOptions? = null,
    ): LoginResult = runOp(this, ::readLogin) { k, op, e ->
        Vox.lib.vox_client_login(handle, user, password, digest.value, options.native(), k, op, e)
    }

    suspend fun loginWithToken(user: String, accessToken: String, options: LoginOptions? = null): LoginResult =
        runOp(this, ::readLogin) { k, op, e ->
            Vox.lib.vox_client_login_with_token(handle, user, accessToken, options.native(), k, op, e)
        }

    suspend fun requestOneTimeLoginKey(user: String): String = runOp(this, { ev ->
        Vox.string { Vox.lib.vox_event_one_time_key(ev!!, it) }
    }) { k, op, e -> Vox.lib.vox_client_request_one_time_login_key(handle, user, k, op, e) }

    suspend fun loginWithOneTimeKey(user: String, hash: String, options: LoginOptions? = null): LoginResult =
        runOp(this, ::readLogin) { k, op, e ->
            Vox.lib.vox_client_login_with_one_time_key(handle, user, hash, options.native(), k, op, e)
        }

    suspend fun refreshToken(user: String, refreshToken: String, deviceToken: String? = null): LoginResult =
        runOp(this, ::readLogin) { k, op, e ->
            Vox.lib.vox_client_token_refresh(handle, user, refreshToken, deviceToken, k, op, e)
        }

    /**
     * Connection events. The listener is registered when collection starts ([onListening] runs
     * right after) and removed when it stops.
     */
    fun connectionEvents(onListening: (() -> Unit)? = null): Flow<ConnectionEvent> = callbackFlow {
        val sink = object : ClientEventSink, Releasable {
            override fun onEvent(event: ConnectionEvent) {
                trySend(event)
            }

            override fun released() {
                channel.close()
            }
        }
        val userData = Vox.register(sink)
        val listener = VoxClientListener.ByValue().also {
            it.callback = Vox.clientEventFn
            it.user_data = userData
            it.release = Vox.releaseFn
        }
        val id = LongByReference()
        val status = Vox.lib.vox_client_on_event(handle, listener, id)
        if (status != VoxStatus.OK) {
            Vox.unregister(userData)
            throw VoxException(status, 0, "vox_client_on_event failed")
        }
        onListening?.invoke()
        awaitClose { Vox.lib.vox_client_off_event(handle, id.value) }
    }.buffer(Channel.UNLIMITED)

    companion object {
        /** The library's version, e.g. "0.1.0". */
        val version: String get() = Vox.lib.vox_version()?.getString(0, "UTF-8") ?: ""

        /** The library's C ABI version; this binding is written against [ABI_VERSION]. */
        val abiVersion: Int get() = Vox.lib.vox_abi_version()

        const val ABI_VERSION = 2

        /** Whether the calling thread is the library's callback thread (`vox_is_callback_thread`). */
        val isCallbackThread: Boolean get() = Vox.isCallbackThread

        /** The number of live library handles (a leak check for tests). */
        val liveHandles: Long get() = Vox.lib.vox_debug_live_handles()

        /** `md5(key + "|" + md5(login:voximplant.com:password))` for [loginWithOneTimeKey]. */
        fun oneTimeKeyHash(key: String, login: String, password: String): String =
            Vox.string { Vox.lib.vox_one_time_key_hash(key, login, password, it) }

        private fun create(server: String, config: ClientConfig): Pointer {
            check(Vox.lib.vox_abi_version() == ABI_VERSION) { "vox_messenger ABI ${Vox.lib.vox_abi_version()} != $ABI_VERSION" }
            val lib = Vox.lib
            val cfg = Vox.handle { lib.vox_client_config_new(server, it) }
            try {
                config.fallbackServers.forEach { Vox.check(lib.vox_client_config_add_server(cfg, it)) }
                if (config.requestTimeoutMs != null || config.connectTimeoutMs != null) {
                    Vox.check(lib.vox_client_config_set_timeouts(cfg, config.requestTimeoutMs ?: 0, config.connectTimeoutMs ?: 0))
                }
                config.requestSpacingMs?.let { Vox.check(lib.vox_client_config_set_request_spacing(cfg, it)) }
                config.reconnectDelaysMs?.let {
                    Vox.check(
                        lib.vox_client_config_set_reconnect(
                            cfg, it.toLongArray(), NativeLong(it.size.toLong()), config.reconnectJitterPercent,
                        ),
                    )
                }
                config.customCaPem?.let { Vox.check(lib.vox_client_config_set_custom_ca(cfg, it)) }
                config.pinnedCertificate?.let {
                    Vox.check(lib.vox_client_config_set_pinned_certificate(cfg, it, NativeLong(it.size.toLong())))
                }
                val err = PointerByReference()
                val out = PointerByReference()
                Vox.check(lib.vox_client_new(cfg, out, err), err)
                return out.value
            } finally {
                lib.vox_client_config_free(cfg)
            }
        }

        private fun readLogin(ev: Pointer?): LoginResult {
            val lib = Vox.lib
            ev!!
            val access = LongByReference()
            val refresh = LongByReference()
            val hasExpiry = lib.vox_event_token_expiry(ev, access, refresh) == VoxStatus.OK
            return LoginResult(
                displayName = Vox.stringOrNull { lib.vox_event_display_name(ev, it) },
                accessToken = Vox.stringOrNull { lib.vox_event_access_token(ev, it) },
                refreshToken = Vox.stringOrNull { lib.vox_event_refresh_token(ev, it) },
                accessExpire = if (hasExpiry) access.value else null,
                refreshExpire = if (hasExpiry) refresh.value else null,
            )
        }

        private fun LoginOptions?.native(): VoxLoginOptions? = this?.let { o ->
            VoxLoginOptions().also {
                it.receive_calls = when (o.receiveCalls) {
                    null -> -1
                    false -> 0
                    true -> 1
                }
                it.device_token = o.deviceToken
            }
        }
    }
}
