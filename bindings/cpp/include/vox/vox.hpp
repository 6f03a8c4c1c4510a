// vox/vox.hpp — a header-only C++17 wrapper over the vox-messenger C ABI (vox_messenger.h).
//
// Ownership: every class owning a C handle is move-only and frees it in its destructor.
// Asynchronous calls come in two forms:
//   * `Future<R> f(args...)`        — a std::future<R> (plus cancel()); get() throws vox::Error.
//   * `Operation f(args..., cb)`    — `cb(Result<R>)` runs exactly once on the library's callback
//                                     thread; Result holds the value or the vox::Error.
// A call the library rejects before it starts (bad arguments, invalid JSON, a freed client...)
// throws vox::Error from the call itself in both forms, and the callback never runs.
// Listeners and callbacks run on the library's single callback thread: never block there
// waiting for another future of this library (it would never complete).
#pragma once

#include "detail.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace vox {

inline std::string version() { return vox_version(); }
inline int32_t abi_version() { return vox_abi_version(); }

enum class EventType : int32_t {
    CreateConversation = VOX_EVENT_CREATE_CONVERSATION,
    EditConversation = VOX_EVENT_EDIT_CONVERSATION,
    EditMessage = VOX_EVENT_EDIT_MESSAGE,
    EditUser = VOX_EVENT_EDIT_USER,
    Error = VOX_EVENT_ERROR,
    GetConversation = VOX_EVENT_GET_CONVERSATION,
    GetPublicConversations = VOX_EVENT_GET_PUBLIC_CONVERSATIONS,
    GetSubscriptions = VOX_EVENT_GET_SUBSCRIPTIONS,
    GetUser = VOX_EVENT_GET_USER,
    Read = VOX_EVENT_READ,
    RemoveConversation = VOX_EVENT_REMOVE_CONVERSATION,
    RemoveMessage = VOX_EVENT_REMOVE_MESSAGE,
    RetransmitEvents = VOX_EVENT_RETRANSMIT_EVENTS,
    SendMessage = VOX_EVENT_SEND_MESSAGE,
    SetStatus = VOX_EVENT_SET_STATUS,
    Subscribe = VOX_EVENT_SUBSCRIBE,
    Typing = VOX_EVENT_TYPING,
    Unsubscribe = VOX_EVENT_UNSUBSCRIBE,
    Login = VOX_EVENT_LOGIN,
    OneTimeKey = VOX_EVENT_ONE_TIME_KEY,
    Tokens = VOX_EVENT_TOKENS,
};

enum class ClientState : int32_t {
    Disconnected = VOX_STATE_DISCONNECTED,
    Connecting = VOX_STATE_CONNECTING,
    Connected = VOX_STATE_CONNECTED,
    Reconnecting = VOX_STATE_RECONNECTING,
    LoggedIn = VOX_STATE_LOGGED_IN,
    Closed = VOX_STATE_CLOSED,
};

enum class ClientEventKind : int32_t {
    StateChanged = VOX_CLIENT_EVENT_STATE_CHANGED,
    ConnectionFailed = VOX_CLIENT_EVENT_CONNECTION_FAILED,
    Reconnecting = VOX_CLIENT_EVENT_RECONNECTING,
    Reconnected = VOX_CLIENT_EVENT_RECONNECTED,
    ConnectionClosed = VOX_CLIENT_EVENT_CONNECTION_CLOSED,
};

enum class Digest : int32_t { Md5 = VOX_DIGEST_MD5, Sha256 = VOX_DIGEST_SHA256 };

enum class Notification : int32_t {
    SendMessage = VOX_NOTIFICATION_SEND_MESSAGE,
    EditMessage = VOX_NOTIFICATION_EDIT_MESSAGE,
    CreateConversation = VOX_NOTIFICATION_CREATE_CONVERSATION,
};

/// A connection event (value type).
struct ClientEvent {
    ClientEventKind kind;
    ClientState state;
    std::optional<std::string> reason;
};

/// A participant and their permissions (value type).
struct Participant {
    uint64_t im_user_id = 0;
    bool can_write = false;
    bool can_edit_messages = false;
    bool can_edit_all_messages = false;
    bool can_remove_messages = false;
    bool can_remove_all_messages = false;
    bool can_manage_participants = false;
    bool owner = false;
    uint64_t last_read_event_sequence = 0;  // read-only

    static Participant from(const vox_participant& p) {
        return Participant{p.im_user_id,           p.can_write,           p.can_edit_messages,
                           p.can_edit_all_messages, p.can_remove_messages, p.can_remove_all_messages,
                           p.can_manage_participants, p.owner,            p.last_read_event_sequence};
    }
    vox_participant to_c() const {
        vox_participant p{};
        p.im_user_id = im_user_id;
        p.can_write = can_write;
        p.can_edit_messages = can_edit_messages;
        p.can_edit_all_messages = can_edit_all_messages;
        p.can_remove_messages = can_remove_messages;
        p.can_remove_all_messages = can_remove_all_messages;
        p.can_manage_participants = can_manage_participants;
        p.owner = owner;
        p.last_read_event_sequence = last_read_event_sequence;
        return p;
    }
};

/// What a new (or recreated) conversation looks like.
struct ConversationConfig {
    std::vector<Participant> participants;
    std::optional<std::string> title;
    bool direct = false;
    bool public_join = false;
    bool uber = false;
    std::optional<std::string> custom_data_json;
};

/// A messenger user: a snapshot (value type).
struct User {
    std::string name;
    uint64_t im_id = 0;
    std::string display_name;
    std::string custom_data_json;
    std::optional<std::string> private_custom_data_json;  // only the current user's
    bool deleted = false;
    std::vector<std::string> conversations;
    std::vector<std::string> left_conversations;
    std::vector<std::string> notifications;

    /// Copies a (borrowed) vox_user.
    static User from(const vox_user* u) {
        User r;
        char* s = nullptr;
        detail::check(vox_user_name(u, &s));
        r.name = detail::take(s);
        detail::check(vox_user_im_id(u, &r.im_id));
        detail::check(vox_user_display_name(u, &s));
        r.display_name = detail::take(s);
        detail::check(vox_user_custom_data(u, &s));
        r.custom_data_json = detail::take(s);
        int32_t st = vox_user_private_custom_data(u, &s);
        if (st == VOX_OK) r.private_custom_data_json = detail::take(s);
        else if (st != VOX_ERR_NO_VALUE) detail::check(st);
        detail::check(vox_user_is_deleted(u, &r.deleted));
        auto list = [&](int32_t which, std::vector<std::string>& out) {
            size_t n = 0;
            detail::check(vox_user_list_count(u, which, &n));
            for (size_t i = 0; i < n; i++) {
                detail::check(vox_user_list_at(u, which, i, &s));
                out.push_back(detail::take(s));
            }
        };
        list(VOX_USER_CONVERSATIONS, r.conversations);
        list(VOX_USER_LEFT_CONVERSATIONS, r.left_conversations);
        list(VOX_USER_NOTIFICATIONS, r.notifications);
        return r;
    }
};

/// The result of a login or token refresh (value type). Tokens are secrets: do not log them.
struct LoginResult {
    std::string display_name;  // empty for a token refresh
    std::optional<std::string> access_token;
    std::optional<std::string> refresh_token;
    uint64_t access_expire = 0;
    uint64_t refresh_expire = 0;
};

/// A started operation: its id and cancel(). Copyable; cancelling after completion, or after
/// the client is gone, does nothing.
class Operation {
public:
    Operation() = default;
    Operation(detail::CorePtr core, vox_op_id id) : core_(std::move(core)), id_(id) {}
    vox_op_id id() const { return id_; }
    /// The completion then runs with VOX_ERR_CANCELLED (unless it already completed or is about to).
    void cancel() const {
        if (core_ && id_) core_->cancel(id_);
    }

private:
    detail::CorePtr core_;
    vox_op_id id_ = 0;
};

/// A std::future that can also cancel its operation. get() throws vox::Error on failure.
template <class R>
class Future : public std::future<R> {
public:
    Future() = default;
    Future(std::future<R> f, Operation op) : std::future<R>(std::move(f)), op_(std::move(op)) {}
    vox_op_id id() const { return op_.id(); }
    void cancel() const { op_.cancel(); }
    const Operation& operation() const { return op_; }
    /// get() with a time limit: throws vox::Error(VOX_ERR_TIMEOUT) if not ready in `d`.
    template <class Rep, class Period>
    R get_within(std::chrono::duration<Rep, Period> d) {
        if (this->wait_for(d) != std::future_status::ready)
            throw Error(VOX_ERR_TIMEOUT, 0, "vox: no completion within the time limit");
        return this->get();
    }

private:
    Operation op_;
};

/// The outcome passed to a callback: a value or a vox::Error.
template <class R>
class Result {
public:
    explicit Result(R v) : v_(std::move(v)) {}
    explicit Result(Error e) : e_(std::move(e)) {}
    bool ok() const { return v_.has_value(); }
    explicit operator bool() const { return ok(); }
    /// The value; throws the vox::Error if the operation failed.
    R& value() & {
        if (!v_) throw *e_;
        return *v_;
    }
    R&& value() && {
        if (!v_) throw *e_;
        return std::move(*v_);
    }
    const Error* error() const { return e_ ? &*e_ : nullptr; }

private:
    std::optional<R> v_;
    std::optional<Error> e_;
};

template <>
class Result<void> {
public:
    Result() = default;
    explicit Result(Error e) : e_(std::move(e)) {}
    bool ok() const { return !e_.has_value(); }
    explicit operator bool() const { return ok(); }
    void value() const {
        if (e_) throw *e_;
    }
    const Error* error() const { return e_ ? &*e_ : nullptr; }

private:
    std::optional<Error> e_;
};

template <class R>
using Callback = std::function<void(Result<R>)>;

class Event;
class Message;
class Conversation;
class Messenger;
class Client;

namespace detail {

template <class R>
struct tag {};

// Converters from a borrowed result event to the value a call returns (defined below).
inline Event convert(tag<Event>, const vox_event* ev, const CorePtr& core);
inline User convert(tag<User>, const vox_event* ev, const CorePtr& core);
inline std::vector<User> convert(tag<std::vector<User>>, const vox_event* ev, const CorePtr& core);
inline Conversation convert(tag<Conversation>, const vox_event* ev, const CorePtr& core);
inline std::vector<Conversation> convert(tag<std::vector<Conversation>>, const vox_event* ev, const CorePtr& core);
inline Message convert(tag<Message>, const vox_event* ev, const CorePtr& core);
inline std::vector<std::string> convert(tag<std::vector<std::string>>, const vox_event* ev, const CorePtr& core);
inline std::vector<uint64_t> convert(tag<std::vector<uint64_t>>, const vox_event* ev, const CorePtr& core);
inline LoginResult convert(tag<LoginResult>, const vox_event* ev, const CorePtr& core);
inline std::string convert(tag<std::string>, const vox_event* ev, const CorePtr& core);

/// The callback form: starts `start(k, &op, &err)`; `cb` gets the converted result.
template <class R, class Start>
Operation callback_call(const CorePtr& core, Start&& start, Callback<R> cb) {
    auto fn = [cb = std::move(cb), core](int32_t st, const vox_error* e, const vox_event* ev) mutable {
        if (!cb) return;
        if (st != VOX_OK) {
            cb(Result<R>(make_error(st, e)));
            return;
        }
        if constexpr (std::is_void_v<R>) {
            cb(Result<void>());
        } else {
            std::optional<Result<R>> r;
            try {
                r.emplace(convert(tag<R>{}, ev, core));
            } catch (const Error& x) {
                r.emplace(x);
            } catch (const std::exception& x) {
                r.emplace(Error(VOX_ERR_INTERNAL, 0, x.what()));
            }
            cb(std::move(*r));
        }
    };
    vox_op_id op = start_call(std::forward<Start>(start), std::move(fn));
    return Operation(core, op);
}

/// The future form, built on the callback form.
template <class R, class StartWithCallback>
Future<R> future_call(StartWithCallback&& start) {
    auto prom = std::make_shared<std::promise<R>>();
    std::future<R> f = prom->get_future();
    Operation op = start([prom](Result<R> r) {
        if (!r.ok()) {
            prom->set_exception(std::make_exception_ptr(*r.error()));
        } else if constexpr (std::is_void_v<R>) {
            prom->set_value();
        } else {
            prom->set_value(std::move(r).value());
        }
    });
    return Future<R>(std::move(f), std::move(op));
}

template <class T>
std::optional<T> opt(int32_t st, T v) {
    if (st == VOX_ERR_NO_VALUE) return std::nullopt;
    check(st);
    return v;
}

}  // namespace detail

// The C call of an async method: `CALL` may use k, op, e and the method's parameters.
#define VOX_CPP_START_(CALL) [&](vox_completion k, vox_op_id* op, vox_error** e) { return CALL; }

/// A messenger event or the result of an operation (move-only; owns a vox_event).
class Event {
public:
    Event() = default;
    Event(vox_event* owned, detail::CorePtr core) : core_(std::move(core)), h_(owned) {}
    Event(Event&&) noexcept = default;
    Event& operator=(Event&&) noexcept = default;

    /// A copy of a borrowed event.
    static Event copy_of(const vox_event* ev, detail::CorePtr core) {
        vox_event* c = nullptr;
        detail::check(vox_event_clone(ev, &c));
        return Event(c, std::move(core));
    }
    Event clone() const { return copy_of(h_, core_); }
    const vox_event* native() const { return h_; }

    EventType type() const {
        int32_t t = 0;
        detail::check(vox_event_type(h_, &t));
        return static_cast<EventType>(t);
    }
    std::optional<std::string> action() const {
        char* s = nullptr;
        int32_t st = vox_event_action(h_, &s);
        if (st == VOX_ERR_NO_VALUE) return std::nullopt;
        detail::check(st);
        return detail::take(s);
    }
    std::optional<uint64_t> initiator() const {
        uint64_t v = 0;
        int32_t st = vox_event_initiator(h_, &v);
        return detail::opt(st, v);
    }
    std::optional<uint64_t> sequence() const {
        uint64_t v = 0;
        int32_t st = vox_event_sequence(h_, &v);
        return detail::opt(st, v);
    }
    std::optional<int64_t> timestamp() const {
        int64_t v = 0;
        int32_t st = vox_event_timestamp(h_, &v);
        return detail::opt(st, v);
    }
    User user() const {
        vox_user* u = nullptr;
        detail::check(vox_event_user(h_, &u));
        std::unique_ptr<vox_user, int32_t (*)(vox_user*)> guard(u, &vox_user_free);
        return User::from(u);
    }
    inline Conversation conversation() const;
    inline Message message() const;
    std::string conversation_uuid() const { return str(vox_event_conversation_uuid); }
    bool is_online() const {
        bool v = false;
        detail::check(vox_event_is_online(h_, &v));
        return v;
    }
    std::vector<uint64_t> user_ids() const {
        size_t n = 0;
        detail::check(vox_event_user_id_count(h_, &n));
        std::vector<uint64_t> r(n);
        for (size_t i = 0; i < n; i++) detail::check(vox_event_user_id_at(h_, i, &r[i]));
        return r;
    }
    std::vector<std::string> conversation_list() const {
        size_t n = 0;
        detail::check(vox_event_conversation_list_count(h_, &n));
        std::vector<std::string> r;
        for (size_t i = 0; i < n; i++) {
            char* s = nullptr;
            detail::check(vox_event_conversation_list_at(h_, i, &s));
            r.push_back(detail::take(s));
        }
        return r;
    }
    /// The items of a list result (get_users_*, get_conversations) or of a retransmit result.
    std::vector<Event> items() const {
        size_t n = 0;
        detail::check(vox_event_item_count(h_, &n));
        std::vector<Event> r;
        for (size_t i = 0; i < n; i++) {
            vox_event* it = nullptr;
            detail::check(vox_event_item_at(h_, i, &it));
            r.emplace_back(it, core_);
        }
        return r;
    }
    std::pair<uint64_t, uint64_t> retransmit_range() const {
        uint64_t a = 0, b = 0;
        detail::check(vox_event_retransmit_range(h_, &a, &b));
        return {a, b};
    }
    int32_t error_code() const {
        int32_t v = 0;
        detail::check(vox_event_error_code(h_, &v));
        return v;
    }
    std::string error_description() const { return str(vox_event_error_description); }
    std::string display_name() const { return str(vox_event_display_name); }
    std::string one_time_key() const { return str(vox_event_one_time_key); }
    std::optional<std::string> access_token() const { return opt_str(vox_event_access_token); }
    std::optional<std::string> refresh_token() const { return opt_str(vox_event_refresh_token); }
    std::pair<uint64_t, uint64_t> token_expiry() const {
        uint64_t a = 0, b = 0;
        detail::check(vox_event_token_expiry(h_, &a, &b));
        return {a, b};
    }

private:
    std::string str(int32_t (*f)(const vox_event*, char**)) const { return detail::get_str<vox_event>(h_, f); }
    std::optional<std::string> opt_str(int32_t (*f)(const vox_event*, char**)) const { return detail::get_opt_str<vox_event>(h_, f); }
    // Declared after core_: destroyed first, as the handle was freed before core_ went.
    detail::CorePtr core_;
    detail::Owned<vox_event, vox_event_free> h_;
};

/// A message: a snapshot of its data plus the calls that act on it (move-only).
class Message {
public:
    Message() = default;
    Message(vox_message* owned, detail::CorePtr core) : core_(std::move(core)), h_(owned) {}
    Message(Message&&) noexcept = default;
    Message& operator=(Message&&) noexcept = default;

    Message clone() const {
        vox_message* c = nullptr;
        detail::check(vox_message_clone(h_, &c));
        return Message(c, core_);
    }
    const vox_message* native() const { return h_; }
    /// The client this message belongs to (borrowed from the library: vox_message_client);
    /// throws vox::Error (VOX_ERR_INVALID_HANDLE) once that client was destroyed.
    const vox_client* client_handle() const {
        vox_client* c = nullptr;
        detail::check(vox_message_client(h_, &c));
        return c;
    }
    /// Cancel an operation of this message's client by id (see Operation::cancel).
    void cancel(vox_op_id op) const { detail::check(vox_cancel(client_handle(), op)); }

    std::string uuid() const { return str(vox_message_uuid); }
    std::string conversation_uuid() const { return str(vox_message_conversation); }
    std::string text() const { return str(vox_message_text); }
    std::string payload_json() const { return str(vox_message_payload); }
    uint64_t sender() const { return u64(vox_message_sender); }
    uint64_t sequence() const { return u64(vox_message_sequence); }

    /// Replace the text and payload (JSON array of objects). Result: an EditMessage event.
    Future<Event> update(const std::string& text, const std::optional<std::string>& payload_json = std::nullopt) const {
        return detail::future_call<Event>([&](Callback<Event> cb) { return update(text, payload_json, std::move(cb)); });
    }
    Operation update(const std::string& text, const std::optional<std::string>& payload_json, Callback<Event> cb) const {
        return detail::callback_call<Event>(
            core_, VOX_CPP_START_(vox_message_update(h_, text.c_str(), detail::cstr(payload_json), k, op, e)), std::move(cb));
    }
    /// Remove the message. Result: a RemoveMessage event.
    Future<Event> remove() const {
        return detail::future_call<Event>([&](Callback<Event> cb) { return remove(std::move(cb)); });
    }
    Operation remove(Callback<Event> cb) const {
        return detail::callback_call<Event>(core_, VOX_CPP_START_(vox_message_remove(h_, k, op, e)), std::move(cb));
    }

private:
    std::string str(int32_t (*f)(const vox_message*, char**)) const { return detail::get_str<vox_message>(h_, f); }
    uint64_t u64(int32_t (*f)(const vox_message*, uint64_t*)) const { return detail::get_val<vox_message, uint64_t>(h_, f); }
    // Declared after core_: destroyed first, as the handle was freed before core_ went.
    detail::CorePtr core_;
    detail::Owned<vox_message, vox_message_free> h_;
};

/// A conversation: a snapshot of its data plus the calls that act on it (move-only). The
/// setters change only this object's copy; update() sends it.
class Conversation {
public:
    Conversation() = default;
    Conversation(vox_conversation* owned, detail::CorePtr core) : core_(std::move(core)), h_(owned) {}
    Conversation(Conversation&&) noexcept = default;
    Conversation& operator=(Conversation&&) noexcept = default;

    Conversation clone() const {
        vox_conversation* c = nullptr;
        detail::check(vox_conversation_clone(h_, &c));
        return Conversation(c, core_);
    }
    const vox_conversation* native() const { return h_; }
    /// The client this conversation belongs to (borrowed from the library:
    /// vox_conversation_client); throws vox::Error (VOX_ERR_INVALID_HANDLE) once that client was
    /// destroyed.
    const vox_client* client_handle() const {
        vox_client* c = nullptr;
        detail::check(vox_conversation_client(h_, &c));
        return c;
    }
    /// Cancel an operation of this conversation's client by id (see Operation::cancel).
    void cancel(vox_op_id op) const { detail::check(vox_cancel(client_handle(), op)); }

    std::string uuid() const { return str(vox_conversation_uuid); }
    std::string title() const { return str(vox_conversation_title); }
    std::string custom_data_json() const { return str(vox_conversation_custom_data); }
    bool is_direct() const { return flag(vox_conversation_is_direct); }
    bool is_public_join() const { return flag(vox_conversation_is_public_join); }
    bool is_uber() const { return flag(vox_conversation_is_uber); }
    int64_t created_time() const { return i64(vox_conversation_created_time); }
    int64_t last_update_time() const { return i64(vox_conversation_last_update_time); }
    uint64_t last_sequence() const {
        uint64_t v = 0;
        detail::check(vox_conversation_last_sequence(h_, &v));
        return v;
    }
    std::vector<Participant> participants() const {
        size_t n = 0;
        detail::check(vox_conversation_participant_count(h_, &n));
        std::vector<Participant> r;
        for (size_t i = 0; i < n; i++) {
            vox_participant p{};
            detail::check(vox_conversation_participant_at(h_, i, &p));
            r.push_back(Participant::from(p));
        }
        return r;
    }

    void set_title(const std::string& title) { detail::check(vox_conversation_set_title(h_, title.c_str())); }
    void set_public_join(bool v) { detail::check(vox_conversation_set_public_join(h_, v)); }
    /// Throws vox::Error (VOX_ERR_INVALID_JSON) for text that is not a JSON object.
    void set_custom_data_json(const std::string& json) {
        vox_error* err = nullptr;
        int32_t st = vox_conversation_set_custom_data(h_, json.c_str(), &err);
        detail::check(st, err);
    }

    /// Send the title, public join and custom data of this object. Result: EditConversation.
    Future<Event> update() const {
        return detail::future_call<Event>([&](Callback<Event> cb) { return update(std::move(cb)); });
    }
    Operation update(Callback<Event> cb) const {
        return detail::callback_call<Event>(core_, VOX_CPP_START_(vox_conversation_update(h_, k, op, e)), std::move(cb));
    }

    Future<Event> add_participants(const std::vector<Participant>& ps) const {
        return detail::future_call<Event>([&](Callback<Event> cb) { return add_participants(ps, std::move(cb)); });
    }
    Operation add_participants(const std::vector<Participant>& ps, Callback<Event> cb) const {
        auto c = to_c(ps);
        return detail::callback_call<Event>(
            core_, VOX_CPP_START_(vox_conversation_add_participants(h_, c.data(), c.size(), k, op, e)), std::move(cb));
    }
    Future<Event> edit_participants(const std::vector<Participant>& ps) const {
        return detail::future_call<Event>([&](Callback<Event> cb) { return edit_participants(ps, std::move(cb)); });
    }
    Operation edit_participants(const std::vector<Participant>& ps, Callback<Event> cb) const {
        auto c = to_c(ps);
        return detail::callback_call<Event>(
            core_, VOX_CPP_START_(vox_conversation_edit_participants(h_, c.data(), c.size(), k, op, e)), std::move(cb));
    }
    /// Remove participants by IM user id.
    Future<Event> remove_participants(const std::vector<uint64_t>& ids) const {
        return detail::future_call<Event>([&](Callback<Event> cb) { return remove_participants(ids, std::move(cb)); });
    }
    Operation remove_participants(const std::vector<uint64_t>& ids, Callback<Event> cb) const {
        std::vector<vox_participant> c(ids.size());
        for (size_t i = 0; i < ids.size(); i++) c[i].im_user_id = ids[i];
        return detail::callback_call<Event>(
            core_, VOX_CPP_START_(vox_conversation_remove_participants(h_, c.data(), c.size(), k, op, e)), std::move(cb));
    }

    /// Tell the participants the user is typing (a call within 10 s of the last one fails with
    /// VOX_ERR_CALL_DISCARDED). Result: a Typing event.
    Future<Event> typing() const {
        return detail::future_call<Event>([&](Callback<Event> cb) { return typing(std::move(cb)); });
    }
    Operation typing(Callback<Event> cb) const {
        return detail::callback_call<Event>(core_, VOX_CPP_START_(vox_conversation_typing(h_, k, op, e)), std::move(cb));
    }

    /// Send a message (`payload_json`: a JSON array of objects). Result: the sent Message.
    Future<Message> send_message(const std::string& text,
                                 const std::optional<std::string>& payload_json = std::nullopt) const {
        return detail::future_call<Message>(
            [&](Callback<Message> cb) { return send_message(text, payload_json, std::move(cb)); });
    }
    Operation send_message(const std::string& text, Callback<Message> cb) const {
        return send_message(text, std::nullopt, std::move(cb));
    }
    Operation send_message(const std::string& text, const std::optional<std::string>& payload_json,
                           Callback<Message> cb) const {
        return detail::callback_call<Message>(
            core_, VOX_CPP_START_(vox_conversation_send_message(h_, text.c_str(), detail::cstr(payload_json), k, op, e)),
            std::move(cb));
    }

    /// Mark events up to `sequence` as read. Result: a Read event.
    Future<Event> mark_as_read(uint64_t sequence) const {
        return detail::future_call<Event>([&](Callback<Event> cb) { return mark_as_read(sequence, std::move(cb)); });
    }
    Operation mark_as_read(uint64_t sequence, Callback<Event> cb) const {
        return detail::callback_call<Event>(
            core_, VOX_CPP_START_(vox_conversation_mark_as_read(h_, sequence, k, op, e)), std::move(cb));
    }

    /// The events `from..=to` (at most 100). Result: a RetransmitEvents event (items()).
    Future<Event> retransmit_events(uint64_t from, uint64_t to) const {
        return detail::future_call<Event>([&](Callback<Event> cb) { return retransmit_events(from, to, std::move(cb)); });
    }
    Operation retransmit_events(uint64_t from, uint64_t to, Callback<Event> cb) const {
        return detail::callback_call<Event>(
            core_, VOX_CPP_START_(vox_conversation_retransmit_events(h_, from, to, k, op, e)), std::move(cb));
    }
    Future<Event> retransmit_events_from(uint64_t from, uint64_t count) const {
        return detail::future_call<Event>(
            [&](Callback<Event> cb) { return retransmit_events_from(from, count, std::move(cb)); });
    }
    Operation retransmit_events_from(uint64_t from, uint64_t count, Callback<Event> cb) const {
        return detail::callback_call<Event>(
            core_, VOX_CPP_START_(vox_conversation_retransmit_events_from(h_, from, count, k, op, e)), std::move(cb));
    }
    Future<Event> retransmit_events_to(uint64_t to, uint64_t count) const {
        return detail::future_call<Event>(
            [&](Callback<Event> cb) { return retransmit_events_to(to, count, std::move(cb)); });
    }
    Operation retransmit_events_to(uint64_t to, uint64_t count, Callback<Event> cb) const {
        return detail::callback_call<Event>(
            core_, VOX_CPP_START_(vox_conversation_retransmit_events_to(h_, to, count, k, op, e)), std::move(cb));
    }

private:
    static std::vector<vox_participant> to_c(const std::vector<Participant>& ps) {
        std::vector<vox_participant> c;
        for (auto& p : ps) c.push_back(p.to_c());
        return c;
    }
    std::string str(int32_t (*f)(const vox_conversation*, char**)) const { return detail::get_str<vox_conversation>(h_, f); }
    bool flag(int32_t (*f)(const vox_conversation*, bool*)) const { return detail::get_val<vox_conversation, bool>(h_, f); }
    int64_t i64(int32_t (*f)(const vox_conversation*, int64_t*)) const { return detail::get_val<vox_conversation, int64_t>(h_, f); }
    // Declared after core_: destroyed first, as the handle was freed before core_ went.
    detail::CorePtr core_;
    detail::Owned<vox_conversation, vox_conversation_free> h_;
};

inline Conversation Event::conversation() const {
    vox_conversation* c = nullptr;
    detail::check(vox_event_conversation(h_, &c));
    return Conversation(c, core_);
}

inline Message Event::message() const {
    vox_message* m = nullptr;
    detail::check(vox_event_message(h_, &m));
    return Message(m, core_);
}

/// A listener registration: the listener is removed when this object is destroyed (or reset()).
/// Off the callback thread, reset() waits until a call of the listener in progress has returned
/// and its std::function has been destroyed: afterwards nothing it captured is used. On the
/// callback thread (inside a listener or completion) it does not wait; the std::function is
/// destroyed right after the current callback. Do not destroy a Subscription while holding a
/// lock its listener takes.
class Subscription {
public:
    Subscription() = default;
    Subscription(Subscription&& o) noexcept
        : messenger_(std::move(o.messenger_)), core_(std::move(o.core_)), released_(std::move(o.released_)),
          id_(std::exchange(o.id_, 0)) {}
    Subscription& operator=(Subscription&& o) noexcept {
        if (this != &o) {
            reset();
            messenger_ = std::move(o.messenger_);
            core_ = std::move(o.core_);
            released_ = std::move(o.released_);
            id_ = std::exchange(o.id_, 0);
        }
        return *this;
    }
    Subscription(const Subscription&) = delete;
    Subscription& operator=(const Subscription&) = delete;
    ~Subscription() { reset(); }

    vox_listener_id id() const { return id_; }
    bool active() const { return id_ != 0; }
    /// Unregister now (idempotent). Safe inside the listener itself.
    void reset() noexcept {
        if (!id_) return;
        if (messenger_) {
            vox_messenger_off(messenger_->handle, id_);
        } else if (core_) {
            std::lock_guard<std::mutex> g(core_->mu);
            if (core_->handle) vox_client_off_event(core_->handle, id_);
        }
        id_ = 0;
        messenger_.reset();
        core_.reset();
        if (released_ && !detail::on_callback_thread()) released_->wait();
        released_.reset();
    }

private:
    friend class Messenger;
    friend class Client;
    std::shared_ptr<detail::MessengerHandle> messenger_;
    detail::CorePtr core_;
    std::shared_ptr<detail::Released> released_;
    vox_listener_id id_ = 0;
};

/// The messenger of a client (move-only). Network calls as in the Web SDK's Messenger.
class Messenger {
public:
    Messenger(Messenger&&) noexcept = default;
    Messenger& operator=(Messenger&&) noexcept = default;
    Messenger(const Messenger&) = delete;
    Messenger& operator=(const Messenger&) = delete;

    const vox_messenger* native() const { return h(); }

    /// The logged-in user with every field (name, IM id, display name, custom data, lists),
    /// without a network call (the library fetched it at login and keeps it up to date);
    /// std::nullopt before login.
    std::optional<User> get_me() const {
        vox_user* u = nullptr;
        int32_t st = vox_messenger_get_me(m_->handle, &u);
        if (st == VOX_ERR_NO_VALUE) return std::nullopt;
        detail::check(st);
        struct Free {
            vox_user* u;
            ~Free() { vox_user_free(u); }
        } guard{u};
        return User::from(u);
    }

    Future<User> get_user_by_name(const std::string& name) const {
        return detail::future_call<User>([&](Callback<User> cb) { return get_user_by_name(name, std::move(cb)); });
    }
    Operation get_user_by_name(const std::string& name, Callback<User> cb) const {
        return call<User>(VOX_CPP_START_(vox_messenger_get_user_by_name(h(), name.c_str(), k, op, e)), std::move(cb));
    }
    Future<User> get_user_by_im_id(uint64_t id) const {
        return detail::future_call<User>([&](Callback<User> cb) { return get_user_by_im_id(id, std::move(cb)); });
    }
    Operation get_user_by_im_id(uint64_t id, Callback<User> cb) const {
        return call<User>(VOX_CPP_START_(vox_messenger_get_user_by_im_id(h(), id, k, op, e)), std::move(cb));
    }
    Future<std::vector<User>> get_users_by_name(const std::vector<std::string>& names) const {
        return detail::future_call<std::vector<User>>(
            [&](Callback<std::vector<User>> cb) { return get_users_by_name(names, std::move(cb)); });
    }
    Operation get_users_by_name(const std::vector<std::string>& names, Callback<std::vector<User>> cb) const {
        std::vector<const char*> c;
        for (auto& n : names) c.push_back(n.c_str());
        return call<std::vector<User>>(
            VOX_CPP_START_(vox_messenger_get_users_by_name(h(), c.data(), c.size(), k, op, e)), std::move(cb));
    }
    Future<std::vector<User>> get_users_by_im_id(const std::vector<uint64_t>& ids) const {
        return detail::future_call<std::vector<User>>(
            [&](Callback<std::vector<User>> cb) { return get_users_by_im_id(ids, std::move(cb)); });
    }
    Operation get_users_by_im_id(const std::vector<uint64_t>& ids, Callback<std::vector<User>> cb) const {
        return call<std::vector<User>>(
            VOX_CPP_START_(vox_messenger_get_users_by_im_id(h(), ids.data(), ids.size(), k, op, e)), std::move(cb));
    }

    /// Edit the current user's custom data (JSON objects; nullopt leaves a field unchanged).
    Future<Event> edit_user(const std::optional<std::string>& custom_data_json,
                            const std::optional<std::string>& private_custom_data_json = std::nullopt) const {
        return detail::future_call<Event>([&](Callback<Event> cb) {
            return edit_user(custom_data_json, private_custom_data_json, std::move(cb));
        });
    }
    Operation edit_user(const std::optional<std::string>& custom_data_json,
                        const std::optional<std::string>& private_custom_data_json, Callback<Event> cb) const {
        return call<Event>(VOX_CPP_START_(vox_messenger_edit_user(h(), detail::cstr(custom_data_json),
                                                             detail::cstr(private_custom_data_json), k, op, e)),
                           std::move(cb));
    }

    Future<Event> set_status(bool online) const {
        return detail::future_call<Event>([&](Callback<Event> cb) { return set_status(online, std::move(cb)); });
    }
    Operation set_status(bool online, Callback<Event> cb) const {
        return call<Event>(VOX_CPP_START_(vox_messenger_set_status(h(), online, k, op, e)), std::move(cb));
    }

    /// Subscribe to presence and edits of these users. Result: a Subscribe event (user_ids()).
    Future<Event> subscribe(const std::vector<uint64_t>& ids) const {
        return detail::future_call<Event>([&](Callback<Event> cb) { return subscribe(ids, std::move(cb)); });
    }
    Operation subscribe(const std::vector<uint64_t>& ids, Callback<Event> cb) const {
        return call<Event>(VOX_CPP_START_(vox_messenger_subscribe(h(), ids.data(), ids.size(), k, op, e)), std::move(cb));
    }
    Future<Event> unsubscribe(const std::vector<uint64_t>& ids) const {
        return detail::future_call<Event>([&](Callback<Event> cb) { return unsubscribe(ids, std::move(cb)); });
    }
    Operation unsubscribe(const std::vector<uint64_t>& ids, Callback<Event> cb) const {
        return call<Event>(VOX_CPP_START_(vox_messenger_unsubscribe(h(), ids.data(), ids.size(), k, op, e)), std::move(cb));
    }
    Future<Event> unsubscribe_from_all() const {
        return detail::future_call<Event>([&](Callback<Event> cb) { return unsubscribe_from_all(std::move(cb)); });
    }
    Operation unsubscribe_from_all(Callback<Event> cb) const {
        return call<Event>(VOX_CPP_START_(vox_messenger_unsubscribe_from_all(h(), k, op, e)), std::move(cb));
    }
    /// The IM ids of the users the current user is subscribed to.
    Future<std::vector<uint64_t>> get_subscriptions() const {
        return detail::future_call<std::vector<uint64_t>>(
            [&](Callback<std::vector<uint64_t>> cb) { return get_subscriptions(std::move(cb)); });
    }
    Operation get_subscriptions(Callback<std::vector<uint64_t>> cb) const {
        return call<std::vector<uint64_t>>(VOX_CPP_START_(vox_messenger_get_subscriptions(h(), k, op, e)), std::move(cb));
    }
    Future<Event> manage_push_notifications(const std::vector<Notification>& kinds) const {
        return detail::future_call<Event>(
            [&](Callback<Event> cb) { return manage_push_notifications(kinds, std::move(cb)); });
    }
    Operation manage_push_notifications(const std::vector<Notification>& kinds, Callback<Event> cb) const {
        std::vector<int32_t> c;
        for (auto n : kinds) c.push_back(static_cast<int32_t>(n));
        return call<Event>(VOX_CPP_START_(vox_messenger_manage_push_notifications(h(), c.data(), c.size(), k, op, e)),
                           std::move(cb));
    }

    Future<Conversation> create_conversation(const ConversationConfig& cfg) const {
        return detail::future_call<Conversation>(
            [&](Callback<Conversation> cb) { return create_conversation(cfg, std::move(cb)); });
    }
    Operation create_conversation(const ConversationConfig& cfg, Callback<Conversation> cb) const {
        CConfig c(cfg);
        return call<Conversation>(VOX_CPP_START_(vox_messenger_create_conversation(h(), &c.c, k, op, e)), std::move(cb));
    }
    Future<Conversation> get_conversation(const std::string& uuid) const {
        return detail::future_call<Conversation>(
            [&](Callback<Conversation> cb) { return get_conversation(uuid, std::move(cb)); });
    }
    Operation get_conversation(const std::string& uuid, Callback<Conversation> cb) const {
        return call<Conversation>(VOX_CPP_START_(vox_messenger_get_conversation(h(), uuid.c_str(), k, op, e)),
                                  std::move(cb));
    }
    Future<std::vector<Conversation>> get_conversations(const std::vector<std::string>& uuids) const {
        return detail::future_call<std::vector<Conversation>>(
            [&](Callback<std::vector<Conversation>> cb) { return get_conversations(uuids, std::move(cb)); });
    }
    Operation get_conversations(const std::vector<std::string>& uuids, Callback<std::vector<Conversation>> cb) const {
        std::vector<const char*> c;
        for (auto& u : uuids) c.push_back(u.c_str());
        return call<std::vector<Conversation>>(
            VOX_CPP_START_(vox_messenger_get_conversations(h(), c.data(), c.size(), k, op, e)), std::move(cb));
    }
    /// The uuids of every public conversation.
    Future<std::vector<std::string>> get_public_conversations() const {
        return detail::future_call<std::vector<std::string>>(
            [&](Callback<std::vector<std::string>> cb) { return get_public_conversations(std::move(cb)); });
    }
    Operation get_public_conversations(Callback<std::vector<std::string>> cb) const {
        return call<std::vector<std::string>>(VOX_CPP_START_(vox_messenger_get_public_conversations(h(), k, op, e)),
                                              std::move(cb));
    }
    Future<Event> join_conversation(const std::string& uuid) const {
        return detail::future_call<Event>([&](Callback<Event> cb) { return join_conversation(uuid, std::move(cb)); });
    }
    Operation join_conversation(const std::string& uuid, Callback<Event> cb) const {
        return call<Event>(VOX_CPP_START_(vox_messenger_join_conversation(h(), uuid.c_str(), k, op, e)), std::move(cb));
    }
    Future<Event> leave_conversation(const std::string& uuid) const {
        return detail::future_call<Event>([&](Callback<Event> cb) { return leave_conversation(uuid, std::move(cb)); });
    }
    Operation leave_conversation(const std::string& uuid, Callback<Event> cb) const {
        return call<Event>(VOX_CPP_START_(vox_messenger_leave_conversation(h(), uuid.c_str(), k, op, e)), std::move(cb));
    }

    /// A conversation object from values cached earlier (no network).
    Conversation recreate_conversation(const ConversationConfig& cfg, const std::string& uuid, uint64_t last_sequence,
                                       int64_t last_update_time, int64_t created_time) const {
        CConfig c(cfg);
        vox_conversation* out = nullptr;
        vox_error* err = nullptr;
        int32_t st = vox_messenger_recreate_conversation(h(), &c.c, uuid.c_str(), last_sequence, last_update_time,
                                                         created_time, &out, &err);
        detail::check(st, err);
        return Conversation(out, core_);
    }
    /// A message object from values cached earlier (no network).
    Message recreate_message(const std::string& uuid, const std::string& conversation_uuid, const std::string& text,
                             const std::optional<std::string>& payload_json, uint64_t sequence) const {
        vox_message* out = nullptr;
        vox_error* err = nullptr;
        int32_t st = vox_messenger_recreate_message(h(), uuid.c_str(), conversation_uuid.c_str(), text.c_str(),
                                                    detail::cstr(payload_json), sequence, &out, &err);
        detail::check(st, err);
        return Message(out, core_);
    }

    /// Listen to one event type (every such event, including the echoes of this client's own
    /// requests, before their completion). The listener runs on the callback thread and gets
    /// its own copy of the event. Keep the Subscription: destroying it unregisters.
    [[nodiscard]] Subscription on(EventType type, std::function<void(Event)> fn) const {
        return on({type}, std::move(fn));
    }
    /// Listen to several event types with one listener (one registration; Event::type() tells
    /// which).
    [[nodiscard]] Subscription on(std::initializer_list<EventType> types, std::function<void(Event)> fn) const {
        int32_t mask = 0;
        for (auto t : types) {
            auto v = static_cast<int32_t>(t);
            mask |= (v >= 0 && v < 31) ? int32_t(1) << v : int32_t(-1);  // -1: rejected by the library
        }
        struct Box {
            std::function<void(Event)> fn;
            detail::CorePtr core;
            std::shared_ptr<detail::Released> released;
            static void call(void* ud, const vox_event* ev) {
                auto* b = static_cast<Box*>(ud);
                try {
                    Event copy = Event::copy_of(ev, b->core);
                    detail::invoke_noexcept(b->fn, std::move(copy));
                } catch (...) {
                }
            }
            static void release(void* ud) {
                auto* b = static_cast<Box*>(ud);
                auto r = std::move(b->released);
                delete b;
                r->signal();
            }
        };
        auto released = std::make_shared<detail::Released>();
        auto* b = new Box{std::move(fn), core_, released};
        vox_listener l{&Box::call, b, &Box::release};
        vox_listener_id id = 0;
        int32_t st = vox_messenger_on(h(), mask, l, &id);
        if (st != VOX_OK) {
            delete b;
            detail::check(st);
        }
        Subscription s;
        s.messenger_ = m_;
        s.released_ = std::move(released);
        s.id_ = id;
        return s;
    }

private:
    friend class Client;
    Messenger(vox_messenger* h, detail::CorePtr core)
        : m_(std::make_shared<detail::MessengerHandle>(h)), core_(std::move(core)) {}
    vox_messenger* h() const { return m_ ? m_->handle : nullptr; }  // null after a move: calls throw
    template <class R, class Start>
    Operation call(Start&& start, Callback<R> cb) const {
        return detail::callback_call<R>(core_, std::forward<Start>(start), std::move(cb));
    }
    struct CConfig {
        std::vector<vox_participant> ps;
        vox_conversation_config c{};
        explicit CConfig(const ConversationConfig& cfg) {
            for (auto& p : cfg.participants) ps.push_back(p.to_c());
            c.participants = ps.empty() ? nullptr : ps.data();
            c.participant_count = ps.size();
            c.title = detail::cstr(cfg.title);
            c.direct = cfg.direct;
            c.public_join = cfg.public_join;
            c.uber = cfg.uber;
            c.custom_data_json = detail::cstr(cfg.custom_data_json);
        }
    };
    std::shared_ptr<detail::MessengerHandle> m_;
    detail::CorePtr core_;
};

/// A client configuration (a builder). Setters throw vox::Error on bad values.
class ClientConfig {
public:
    explicit ClientConfig(const std::string& server) { detail::check(vox_client_config_new(server.c_str(), h_.out())); }

    ClientConfig& add_server(const std::string& server) {
        detail::check(vox_client_config_add_server(h_, server.c_str()));
        return *this;
    }
    ClientConfig& custom_ca(const std::string& pem) {
        detail::check(vox_client_config_set_custom_ca(h_, pem.c_str()));
        return *this;
    }
    ClientConfig& pinned_certificate(const std::vector<uint8_t>& cert) {
        detail::check(vox_client_config_set_pinned_certificate(h_, cert.data(), cert.size()));
        return *this;
    }
    ClientConfig& timeouts(std::chrono::milliseconds request, std::chrono::milliseconds connect) {
        detail::check(vox_client_config_set_timeouts(h_, uint64_t(request.count()), uint64_t(connect.count())));
        return *this;
    }
    ClientConfig& request_spacing(std::chrono::milliseconds spacing) {
        detail::check(vox_client_config_set_request_spacing(h_, uint64_t(spacing.count())));
        return *this;
    }
    ClientConfig& reconnect(const std::vector<std::chrono::milliseconds>& delays, uint32_t jitter_percent = 0) {
        std::vector<uint64_t> c;
        for (auto d : delays) c.push_back(uint64_t(d.count()));
        detail::check(vox_client_config_set_reconnect(h_, c.data(), c.size(), jitter_percent));
        return *this;
    }
    const vox_client_config* native() const { return h_; }

private:
    detail::Owned<vox_client_config, vox_client_config_free> h_;
};

/// Login options (the Web SDK's login options object).
struct LoginOptions {
    std::optional<bool> receive_calls;
    std::optional<std::string> device_token;
};

/// A client: one connection to a Voximplant-compatible server (move-only). Destroying it
/// disconnects: every pending operation completes with VOX_ERR_CONNECTION_CLOSED and every
/// listener is removed. Messenger, Conversation and Message objects may outlive it (reading
/// works; their network calls fail).
class Client {
public:
    explicit Client(const ClientConfig& cfg) : core_(std::make_shared<detail::ClientCore>()) {
        vox_error* err = nullptr;
        vox_client* c = nullptr;
        int32_t st = vox_client_new(cfg.native(), &c, &err);
        detail::check(st, err);
        core_->handle = c;
    }
    explicit Client(const std::string& server) : Client(ClientConfig(server)) {}
    Client(Client&&) noexcept = default;
    Client& operator=(Client&& o) noexcept {
        if (this != &o) {
            if (core_) core_->free();
            core_ = std::move(o.core_);
        }
        return *this;
    }
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;
    ~Client() {
        if (core_) core_->free();
    }

    vox_client* native() const { return core_ ? core_->handle : nullptr; }

    ClientState state() const {
        int32_t s = 0;
        detail::check(vox_client_state(h(), &s));
        return static_cast<ClientState>(s);
    }
    void notify_network_changed() const { detail::check(vox_client_notify_network_changed(h())); }
    void cancel(vox_op_id op) const { detail::check(vox_cancel(h(), op)); }

    Future<void> connect() const {
        return detail::future_call<void>([&](Callback<void> cb) { return connect(std::move(cb)); });
    }
    Operation connect(Callback<void> cb) const {
        return call<void>(VOX_CPP_START_(vox_client_connect(h(), k, op, e)), std::move(cb));
    }
    Future<void> disconnect() const {
        return detail::future_call<void>([&](Callback<void> cb) { return disconnect(std::move(cb)); });
    }
    Operation disconnect(Callback<void> cb) const {
        return call<void>(VOX_CPP_START_(vox_client_disconnect(h(), k, op, e)), std::move(cb));
    }

    /// Log in with a password (hashed locally). Fails with VOX_ERR_LOGIN_FAILED (code 401, 404...).
    Future<LoginResult> login(const std::string& user, const std::string& password, Digest digest = Digest::Md5,
                              const LoginOptions& options = {}) const {
        return detail::future_call<LoginResult>(
            [&](Callback<LoginResult> cb) { return login(user, password, digest, options, std::move(cb)); });
    }
    Operation login(const std::string& user, const std::string& password, Callback<LoginResult> cb) const {
        return login(user, password, Digest::Md5, {}, std::move(cb));
    }
    Operation login(const std::string& user, const std::string& password, Digest digest, const LoginOptions& options,
                    Callback<LoginResult> cb) const {
        COptions o(options);
        return call<LoginResult>(VOX_CPP_START_(vox_client_login(h(), user.c_str(), password.c_str(),
                                                            static_cast<int32_t>(digest), o.get(), k, op, e)),
                                 std::move(cb));
    }
    Future<LoginResult> login_with_token(const std::string& user, const std::string& access_token,
                                         const LoginOptions& options = {}) const {
        return detail::future_call<LoginResult>(
            [&](Callback<LoginResult> cb) { return login_with_token(user, access_token, options, std::move(cb)); });
    }
    Operation login_with_token(const std::string& user, const std::string& access_token, const LoginOptions& options,
                               Callback<LoginResult> cb) const {
        COptions o(options);
        return call<LoginResult>(
            VOX_CPP_START_(vox_client_login_with_token(h(), user.c_str(), access_token.c_str(), o.get(), k, op, e)),
            std::move(cb));
    }
    /// A one-time login key (see one_time_key_hash()).
    Future<std::string> request_one_time_login_key(const std::string& user) const {
        return detail::future_call<std::string>(
            [&](Callback<std::string> cb) { return request_one_time_login_key(user, std::move(cb)); });
    }
    Operation request_one_time_login_key(const std::string& user, Callback<std::string> cb) const {
        return call<std::string>(VOX_CPP_START_(vox_client_request_one_time_login_key(h(), user.c_str(), k, op, e)),
                                 std::move(cb));
    }
    Future<LoginResult> login_with_one_time_key(const std::string& user, const std::string& hash,
                                                const LoginOptions& options = {}) const {
        return detail::future_call<LoginResult>(
            [&](Callback<LoginResult> cb) { return login_with_one_time_key(user, hash, options, std::move(cb)); });
    }
    Operation login_with_one_time_key(const std::string& user, const std::string& hash, const LoginOptions& options,
                                      Callback<LoginResult> cb) const {
        COptions o(options);
        return call<LoginResult>(
            VOX_CPP_START_(vox_client_login_with_one_time_key(h(), user.c_str(), hash.c_str(), o.get(), k, op, e)),
            std::move(cb));
    }
    Future<LoginResult> token_refresh(const std::string& user, const std::string& refresh_token,
                                      const std::optional<std::string>& device_token = std::nullopt) const {
        return detail::future_call<LoginResult>([&](Callback<LoginResult> cb) {
            return token_refresh(user, refresh_token, device_token, std::move(cb));
        });
    }
    Operation token_refresh(const std::string& user, const std::string& refresh_token,
                            const std::optional<std::string>& device_token, Callback<LoginResult> cb) const {
        return call<LoginResult>(VOX_CPP_START_(vox_client_token_refresh(h(), user.c_str(), refresh_token.c_str(),
                                                                    detail::cstr(device_token), k, op, e)),
                                 std::move(cb));
    }

    /// Listen to connection events (state changes, failures, reconnects, close).
    [[nodiscard]] Subscription on_event(std::function<void(const ClientEvent&)> fn) const {
        struct Box {
            std::function<void(const ClientEvent&)> fn;
            std::shared_ptr<detail::Released> released;
            static void call(void* ud, const vox_client_event* e) {
                ClientEvent ev{static_cast<ClientEventKind>(e->kind), static_cast<ClientState>(e->state),
                               e->reason ? std::optional<std::string>(e->reason) : std::nullopt};
                detail::invoke_noexcept(static_cast<Box*>(ud)->fn, ev);
            }
            static void release(void* ud) {
                auto* b = static_cast<Box*>(ud);
                auto r = std::move(b->released);
                delete b;
                r->signal();
            }
        };
        auto released = std::make_shared<detail::Released>();
        auto* b = new Box{std::move(fn), released};
        vox_client_listener l{&Box::call, b, &Box::release};
        vox_listener_id id = 0;
        int32_t st = vox_client_on_event(h(), l, &id);
        if (st != VOX_OK) {
            delete b;
            detail::check(st);
        }
        Subscription s;
        s.core_ = core_;
        s.released_ = std::move(released);
        s.id_ = id;
        return s;
    }

    /// The messenger of this client (a new object each call; they share the listeners).
    Messenger messenger() const {
        vox_messenger* m = nullptr;
        detail::check(vox_client_messenger(h(), &m));
        return Messenger(m, core_);
    }

private:
    vox_client* h() const { return core_ ? core_->handle : nullptr; }
    template <class R, class Start>
    Operation call(Start&& start, Callback<R> cb) const {
        return detail::callback_call<R>(core_, std::forward<Start>(start), std::move(cb));
    }
    struct COptions {
        vox_login_options o{-1, nullptr};
        bool any = false;
        explicit COptions(const LoginOptions& opt) {
            if (opt.receive_calls) o.receive_calls = *opt.receive_calls ? 1 : 0;
            o.device_token = detail::cstr(opt.device_token);
            any = opt.receive_calls.has_value() || opt.device_token.has_value();
        }
        const vox_login_options* get() const { return any ? &o : nullptr; }
    };
    detail::CorePtr core_;
};

/// The hash to log in with a one-time key (usually computed by the application's backend).
inline std::string one_time_key_hash(const std::string& key, const std::string& login, const std::string& password) {
    char* s = nullptr;
    detail::check(vox_one_time_key_hash(key.c_str(), login.c_str(), password.c_str(), &s));
    return detail::take(s);
}

enum class LogLevel : int32_t {
    Off = VOX_LOG_OFF,
    Error = VOX_LOG_ERROR,
    Warn = VOX_LOG_WARN,
    Info = VOX_LOG_INFO,
    Debug = VOX_LOG_DEBUG,
    Trace = VOX_LOG_TRACE,
};

using LogHandler = std::function<void(LogLevel level, const char* target, const char* message)>;

/// Send the library's log records at `level` and more severe to `handler` (called on any library
/// thread, possibly concurrently: it must be thread-safe and quick). A later call replaces it;
/// LogLevel::Off or an empty handler turns logging off. Throws vox::Error (VOX_ERR_INVALID_STATE)
/// when the host process already installed a Rust `tracing` subscriber. A replaced handler is
/// destroyed by the library's release call once no call of it is in progress.
inline void set_log_handler(LogLevel level, LogHandler handler) {
    if (!handler || level == LogLevel::Off) {
        detail::check(vox_set_log_callback(VOX_LOG_OFF, nullptr, nullptr, nullptr));
        return;
    }
    auto* kept = new LogHandler(std::move(handler));
    auto tramp = [](void* ud, int32_t lvl, const char* target, const char* message) {
        detail::invoke_noexcept(*static_cast<LogHandler*>(ud), static_cast<LogLevel>(lvl), target, message);
    };
    auto release = [](void* ud) { delete static_cast<LogHandler*>(ud); };
    int32_t st = vox_set_log_callback(static_cast<int32_t>(level), tramp, kept, release);
    if (st != VOX_OK) delete kept;  // not stored: still ours
    detail::check(st);
}

/// Throws vox::Error (VOX_ERR_INVALID_JSON, with the parser's message) unless `json` is a JSON
/// object (custom data) — or, with `payload` true, a JSON array of objects (a message payload).
inline void validate_json(const std::string& json, bool payload = false) {
    vox_error* err = nullptr;
    int32_t st = vox_json_validate(json.c_str(), payload ? 1 : 0, &err);
    detail::check(st, err);
}

// ---- converters ---------------------------------------------------------------------------

namespace detail {

inline Event convert(tag<Event>, const vox_event* ev, const CorePtr& core) { return Event::copy_of(ev, core); }

inline User convert(tag<User>, const vox_event* ev, const CorePtr&) {
    vox_user* u = nullptr;
    check(vox_event_user(ev, &u));
    std::unique_ptr<vox_user, int32_t (*)(vox_user*)> guard(u, &vox_user_free);
    return User::from(u);
}

inline std::vector<User> convert(tag<std::vector<User>>, const vox_event* ev, const CorePtr& core) {
    std::vector<User> r;
    for (auto& it : Event::copy_of(ev, core).items()) r.push_back(it.user());
    return r;
}

inline Conversation convert(tag<Conversation>, const vox_event* ev, const CorePtr& core) {
    vox_conversation* c = nullptr;
    check(vox_event_conversation(ev, &c));
    return Conversation(c, core);
}

inline std::vector<Conversation> convert(tag<std::vector<Conversation>>, const vox_event* ev, const CorePtr& core) {
    std::vector<Conversation> r;
    for (auto& it : Event::copy_of(ev, core).items()) r.push_back(it.conversation());
    return r;
}

inline Message convert(tag<Message>, const vox_event* ev, const CorePtr& core) {
    vox_message* m = nullptr;
    check(vox_event_message(ev, &m));
    return Message(m, core);
}

inline std::vector<std::string> convert(tag<std::vector<std::string>>, const vox_event* ev, const CorePtr& core) {
    return Event::copy_of(ev, core).conversation_list();
}

inline std::vector<uint64_t> convert(tag<std::vector<uint64_t>>, const vox_event* ev, const CorePtr& core) {
    return Event::copy_of(ev, core).user_ids();
}

inline LoginResult convert(tag<LoginResult>, const vox_event* ev, const CorePtr& core) {
    Event e = Event::copy_of(ev, core);
    LoginResult r;
    if (e.type() == EventType::Login) r.display_name = e.display_name();
    r.access_token = e.access_token();
    r.refresh_token = e.refresh_token();
    if (r.access_token) {
        auto x = e.token_expiry();
        r.access_expire = x.first;
        r.refresh_expire = x.second;
    }
    return r;
}

inline std::string convert(tag<std::string>, const vox_event* ev, const CorePtr& core) {
    return Event::copy_of(ev, core).one_time_key();
}

}  // namespace detail
}  // namespace vox

#undef VOX_CPP_START_
