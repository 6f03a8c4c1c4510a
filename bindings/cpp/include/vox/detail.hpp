// vox/detail.hpp — internals of the C++ wrapper (not part of the public API).
#pragma once

#include <vox_messenger.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace vox {

/// An error of the library: `status()` is a `VOX_ERR_*` code (see vox_messenger.h), `code()` the
/// protocol's / SDK's number (`vox_error_code`: e.g. 8 "conversation does not exist" for
/// VOX_ERR_MESSENGER, 401 for VOX_ERR_LOGIN_FAILED, 0 for errors of the C layer).
class Error : public std::runtime_error {
public:
    Error(int32_t status, int32_t code, const std::string& message)
        : std::runtime_error(message.empty() ? "vox error " + std::to_string(status) : message),
          status_(status), code_(code) {}
    int32_t status() const noexcept { return status_; }
    int32_t code() const noexcept { return code_; }

private:
    int32_t status_;
    int32_t code_;
};

namespace detail {

/// Takes ownership of a library string.
inline std::string take(char* s) {
    if (!s) return {};
    std::string r(s, vox_string_len(s));
    vox_string_free(s);
    return r;
}

/// An Error from a (borrowed) vox_error, or from a bare status.
inline Error make_error(int32_t status, const vox_error* e) {
    if (!e) return Error(status, 0, "vox error " + std::to_string(status));
    return Error(vox_error_status(e) ? vox_error_status(e) : status, vox_error_code(e), take(vox_error_message(e)));
}

/// Throws when `status` is not VOX_OK; frees `owned_error` in every case.
inline void check(int32_t status, vox_error* owned_error = nullptr) {
    if (status == VOX_OK) {
        if (owned_error) vox_error_free(owned_error);
        return;
    }
    Error err = make_error(status, owned_error);
    if (owned_error) vox_error_free(owned_error);
    throw err;
}

inline const char* cstr(const std::optional<std::string>& s) { return s ? s->c_str() : nullptr; }

/// The client handle shared by every object that came from it (for vox_cancel and for calls on
/// conversations/messages whose C handles do not know their client). Nulled when the Client is
/// destroyed.
struct ClientCore {
    std::mutex mu;
    vox_client* handle = nullptr;

    int32_t cancel(vox_op_id op) {
        std::lock_guard<std::mutex> g(mu);
        return handle ? vox_cancel(handle, op) : VOX_ERR_INVALID_HANDLE;
    }
    void free() {
        vox_client* h;
        {
            std::lock_guard<std::mutex> g(mu);
            h = handle;
            handle = nullptr;
        }
        if (h) vox_client_free(h);
    }
};
using CorePtr = std::shared_ptr<ClientCore>;

/// A messenger handle shared by the Messenger and its subscriptions.
struct MessengerHandle {
    vox_messenger* handle = nullptr;
    explicit MessengerHandle(vox_messenger* h) : handle(h) {}
    MessengerHandle(const MessengerHandle&) = delete;
    MessengerHandle& operator=(const MessengerHandle&) = delete;
    ~MessengerHandle() { vox_messenger_free(handle); }
};

/// Whether this is the library's single callback thread (asks the library: vox_is_callback_thread).
inline bool on_callback_thread() { return vox_is_callback_thread(); }

/// Signalled when the library releases a listener (after its last call has returned).
struct Released {
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
    void signal() {
        std::lock_guard<std::mutex> g(mu);
        done = true;
        cv.notify_all();
    }
    void wait() {
        std::unique_lock<std::mutex> g(mu);
        cv.wait(g, [&] { return done; });
    }
};

/// Runs a user callback on the library's callback thread; an exception escaping it must not
/// unwind into C, so it is reported on stderr and dropped.
template <class F, class... A>
void invoke_noexcept(F& f, A&&... a) noexcept {
    try {
        f(std::forward<A>(a)...);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "vox: exception escaped a callback: %s\n", e.what());
    } catch (...) {
        std::fprintf(stderr, "vox: exception escaped a callback\n");
    }
}

/// The user_data of a completion: a std::function run once, deleted by `release`.
struct PendingCall {
    std::function<void(int32_t, const vox_error*, const vox_event*)> fn;
    static void on_done(void* ud, int32_t status, const vox_error* err, const vox_event* res) {
        auto* p = static_cast<PendingCall*>(ud);
        invoke_noexcept(p->fn, status, err, res);
    }
    static void on_release(void* ud) { delete static_cast<PendingCall*>(ud); }
};

/// Starts an asynchronous C call: `start(completion, &op, &err)`. On a local rejection the
/// pending call is deleted (its callback never runs) and vox::Error is thrown.
template <class Start>
vox_op_id start_call(Start&& start, std::function<void(int32_t, const vox_error*, const vox_event*)> fn) {
    auto* p = new PendingCall{std::move(fn)};
    vox_completion k{&PendingCall::on_done, p, &PendingCall::on_release};
    vox_op_id op = 0;
    vox_error* err = nullptr;
    int32_t st = start(k, &op, &err);
    if (st != VOX_OK) {
        delete p;
        check(st, err);
    }
    if (err) vox_error_free(err);
    return op;
}

/// Move-only owner of a library handle, freed with `Free` (which accepts null). Converts to the
/// raw pointer, so it passes straight to the C functions.
template <typename T, int32_t (*Free)(T*)>
class Owned {
public:
    Owned() = default;
    explicit Owned(T* p) : p_(p) {}
    Owned(Owned&& o) noexcept : p_(std::exchange(o.p_, nullptr)) {}
    Owned& operator=(Owned&& o) noexcept {
        if (this != &o) {
            Free(p_);
            p_ = std::exchange(o.p_, nullptr);
        }
        return *this;
    }
    Owned(const Owned&) = delete;
    Owned& operator=(const Owned&) = delete;
    ~Owned() { Free(p_); }
    operator T*() const { return p_; }
    /// For the C functions that create the handle through an out-pointer.
    T** out() { return &p_; }

private:
    T* p_ = nullptr;
};

/// A string property of handle `h` through accessor `f` (throws on error).
template <typename H>
std::string get_str(const H* h, int32_t (*f)(const H*, char**)) {
    char* s = nullptr;
    check(f(h, &s));
    return take(s);
}

/// An optional string property: std::nullopt on VOX_ERR_NO_VALUE.
template <typename H>
std::optional<std::string> get_opt_str(const H* h, int32_t (*f)(const H*, char**)) {
    char* s = nullptr;
    int32_t st = f(h, &s);
    if (st == VOX_ERR_NO_VALUE) return std::nullopt;
    check(st);
    return take(s);
}

/// A scalar property (bool, integers) of handle `h` through accessor `f`.
template <typename H, typename V>
V get_val(const H* h, int32_t (*f)(const H*, V*)) {
    V v{};
    check(f(h, &v));
    return v;
}

}  // namespace detail
}  // namespace vox
