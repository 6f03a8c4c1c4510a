// GoogleTest suite of the C++ wrapper, against the real vox-messenger-server, which the global
// environment starts on ephemeral ports (binary: $VOX_SERVER, else the path CMake compiled in).
// No sleeps: every wait is on a future or a condition variable with a time limit.
#include <vox/vox.hpp>

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <mutex>
#include <string>

using namespace std::chrono_literals;

namespace {

constexpr auto kWait = 15s;
const char* kUser1 = "user1@app.acc.voximplant.com";
const char* kUser2 = "user2@app.acc.voximplant.com";
const char* kUser3 = "user3@app.acc.voximplant.com";

std::string g_ws;  // ws://127.0.0.1:PORT

class ServerEnv : public ::testing::Environment {
public:
    void SetUp() override {
        const char* bin = std::getenv("VOX_SERVER");
#ifdef VOX_SERVER_BIN
        if (!bin) bin = VOX_SERVER_BIN;
#endif
        ASSERT_NE(bin, nullptr) << "set VOX_SERVER to the vox-messenger-server binary";
        char tmpl[] = "/tmp/vox-cpp-test-XXXXXX";
        ASSERT_NE(mkdtemp(tmpl), nullptr);
        dir_ = tmpl;
        std::string db = dir_ + "/db.sqlite3", log = dir_ + "/server.log";
        int fds[2];
        ASSERT_EQ(pipe(fds), 0);
        pid_ = fork();
        ASSERT_GE(pid_, 0);
        if (pid_ == 0) {
            dup2(fds[1], 1);
            FILE* err = std::fopen(log.c_str(), "w");
            if (err) dup2(fileno(err), 2);
            close(fds[0]);
            execl(bin, bin, "--dev", "--db", db.c_str(), "--listen", "127.0.0.1:0", "--plain-listen", "127.0.0.1:0",
                  "--admin-listen", "127.0.0.1:0", "--msg-rate-per-second", "0", "--msg-rate-per-minute", "0",
                  // the wrong-password test must not lock user1 out under --gtest_repeat
                  "--login-failures-per-user", "100000", "--login-failures-per-peer", "100000", (char*)nullptr);
            _exit(127);
        }
        close(fds[1]);
        FILE* out = fdopen(fds[0], "r");
        char line[4096] = {0};
        ASSERT_NE(std::fgets(line, sizeof line, out), nullptr) << "server did not start (see " << log << ")";
        std::string s(line);
        ASSERT_EQ(s.rfind("READY ", 0), 0u) << s;
        auto k = s.find("\"ws\":\"");
        ASSERT_NE(k, std::string::npos) << s;
        auto end = s.find('"', k + 6);
        g_ws = "ws://" + s.substr(k + 6, end - k - 6);
        out_ = out;  // keep the pipe open: the server may write more
    }
    void TearDown() override {
        if (pid_ > 0) {
            kill(pid_, SIGTERM);
            waitpid(pid_, nullptr, 0);
        }
        if (out_) std::fclose(out_);
        if (!dir_.empty()) std::system(("rm -rf '" + dir_ + "'").c_str());
    }

private:
    pid_t pid_ = -1;
    FILE* out_ = nullptr;
    std::string dir_;
};

vox::ClientConfig config(const std::string& server) {
    vox::ClientConfig cfg(server);
    cfg.request_spacing(0ms);
    return cfg;
}

vox::Client logged_in(const char* user, vox::Digest digest = vox::Digest::Md5,
                      std::chrono::milliseconds spacing = 0ms) {
    vox::ClientConfig cfg = config(g_ws);
    cfg.request_spacing(spacing);
    vox::Client c(cfg);
    c.connect().get_within(kWait);
    auto r = c.login(user, "secret", digest).get_within(kWait);
    EXPECT_FALSE(r.display_name.empty());
    EXPECT_EQ(c.state(), vox::ClientState::LoggedIn);
    return c;
}

/// A thread-safe queue of events filled by listeners (on the callback thread).
class Inbox {
public:
    void push(vox::Event e) {
        std::lock_guard<std::mutex> g(mu_);
        q_.push_back(std::move(e));
        cv_.notify_all();
    }
    /// The next event for which `pred` holds (others before it are dropped).
    template <class P>
    vox::Event next(P pred) {
        std::unique_lock<std::mutex> g(mu_);
        auto deadline = std::chrono::steady_clock::now() + kWait;
        for (;;) {
            while (!q_.empty()) {
                vox::Event e = std::move(q_.front());
                q_.pop_front();
                if (pred(e)) return e;
            }
            if (cv_.wait_until(g, deadline) == std::cv_status::timeout && q_.empty())
                throw std::runtime_error("timed out waiting for an event");
        }
    }
    vox::Event next() {
        return next([](const vox::Event&) { return true; });
    }
    std::function<void(vox::Event)> sink() {
        return [this](vox::Event e) { push(std::move(e)); };
    }

private:
    std::mutex mu_;
    std::condition_variable cv_;
    std::deque<vox::Event> q_;
};

/// Set when the object is destroyed (to observe that a std::function captured by the library
/// was released).
struct Latch {
    std::mutex mu;
    std::condition_variable cv;
    bool set = false;
    void signal() {
        std::lock_guard<std::mutex> g(mu);
        set = true;
        cv.notify_all();
    }
    bool wait() {
        std::unique_lock<std::mutex> g(mu);
        return cv.wait_for(g, kWait, [&] { return set; });
    }
};
struct SignalOnDestroy {
    std::shared_ptr<Latch> latch;
    ~SignalOnDestroy() { latch->signal(); }
};

/// A TCP socket that accepts connections (kernel backlog) but never answers: a connect to it
/// stays pending until cancelled or freed.
class BlackHole {
public:
    BlackHole() {
        fd_ = socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
        listen(fd_, 16);
        socklen_t len = sizeof a;
        getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
        url_ = "ws://127.0.0.1:" + std::to_string(ntohs(a.sin_port));
    }
    ~BlackHole() { close(fd_); }
    const std::string& url() const { return url_; }

private:
    int fd_;
    std::string url_;
};

template <class F>
vox::Error expect_error(F&& f) {
    try {
        f();
    } catch (const vox::Error& e) {
        return e;
    }
    ADD_FAILURE() << "expected a vox::Error";
    return vox::Error(0, 0, "none");
}

uint64_t im_id(const vox::Messenger& m, const std::string& name) { return m.get_user_by_name(name).get_within(kWait).im_id; }

}  // namespace

TEST(Basics, VersionAndAbi) {
    EXPECT_EQ(vox::abi_version(), VOX_ABI_VERSION);
    EXPECT_EQ(vox::abi_version(), 2);
    EXPECT_FALSE(vox_is_callback_thread());
    EXPECT_FALSE(vox::version().empty());
}

TEST(Basics, LocalErrorsThrowWithStatus) {
    auto e = expect_error([] { vox::ClientConfig cfg("ftp://nowhere"); vox::Client c(cfg); });
    EXPECT_NE(e.status(), 0);
    vox::Client c(config(g_ws));
    // Login before connect: rejected (thrown at once or from the future).
    auto e2 = expect_error([&] { c.login(kUser1, "secret").get_within(kWait); });
    EXPECT_NE(e2.status(), VOX_OK);
    EXPECT_FALSE(c.messenger().get_me().has_value());
}

TEST(Basics, JsonValidationAndLogHandler) {
    vox::validate_json(R"({"a":1})");
    vox::validate_json(R"([{"a":1}])", true);
    EXPECT_EQ(expect_error([] { vox::validate_json("[1]"); }).status(), VOX_ERR_INVALID_JSON);
    EXPECT_EQ(expect_error([] { vox::validate_json("{}", true); }).status(), VOX_ERR_INVALID_JSON);

    std::atomic<int> records{0};
    vox::set_log_handler(vox::LogLevel::Debug, [&](vox::LogLevel, const char* target, const char* message) {
        if (target && message) records++;
    });
    {
        vox::Client c(config(g_ws));
        c.connect().get_within(kWait);
        c.disconnect().get_within(kWait);
    }
    vox::set_log_handler(vox::LogLevel::Off, nullptr);
    EXPECT_GT(records.load(), 0);
    // The library releases a replaced handler (its captures are destroyed) exactly once.
    auto token = std::make_shared<int>(1);
    vox::set_log_handler(vox::LogLevel::Error, [token](vox::LogLevel, const char*, const char*) {});
    EXPECT_EQ(token.use_count(), 2);
    vox::set_log_handler(vox::LogLevel::Off, nullptr);
    for (int i = 0; i < 100 && token.use_count() > 1; i++) std::this_thread::sleep_for(10ms);
    EXPECT_EQ(token.use_count(), 1);
}

TEST(Basics, ConfigFallbackServerAndSettings) {
    // The first server refuses connections (a port bound but not listening): the client moves on
    // to the fallback.
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    socklen_t len = sizeof a;
    getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    vox::ClientConfig cfg("ws://127.0.0.1:" + std::to_string(ntohs(a.sin_port)));
    cfg.add_server(g_ws).timeouts(10s, 5s).request_spacing(0ms).reconnect({100ms, 200ms}, 10);
    vox::Client c(cfg);
    c.connect().get_within(kWait);
    EXPECT_EQ(c.state(), vox::ClientState::Connected);
    close(fd);
    // A CA that is not PEM: refused by the setter or by the client (VOX_ERR_TLS).
    auto tls = expect_error([] {
        vox::ClientConfig bad("wss://127.0.0.1:1");
        bad.custom_ca("not a pem");
        vox::Client client(bad);
    });
    EXPECT_EQ(tls.status(), VOX_ERR_TLS) << tls.what();
}

TEST(Basics, WrongPasswordIsLoginFailed401) {
    vox::Client c(config(g_ws));
    c.connect().get_within(kWait);
    auto e = expect_error([&] { c.login(kUser1, "wrong").get_within(kWait); });
    EXPECT_EQ(e.status(), VOX_ERR_LOGIN_FAILED);
    EXPECT_EQ(e.code(), 401);
    EXPECT_NE(std::string(e.what()), "");
}

TEST(Chat, TwoUsersChatAndReceiveEachOthersEvents) {
    vox::Client a = logged_in(kUser1);
    vox::Client b = logged_in(kUser2, vox::Digest::Sha256);
    vox::Messenger ma = a.messenger(), mb = b.messenger();
    EXPECT_EQ(ma.get_me().value().name, "user1@app.acc");
    EXPECT_EQ(ma.get_me().value().display_name, "User One");
    EXPECT_GT(ma.get_me().value().im_id, 0u);

    Inbox b_created, b_sent, b_typing, b_edited, b_removed, a_sent, a_read;
    auto s1 = mb.on(vox::EventType::CreateConversation, b_created.sink());
    auto s2 = mb.on(vox::EventType::SendMessage, b_sent.sink());
    auto s3 = mb.on(vox::EventType::Typing, b_typing.sink());
    auto s4 = mb.on(vox::EventType::EditMessage, b_edited.sink());
    auto s5 = mb.on(vox::EventType::RemoveMessage, b_removed.sink());
    auto s6 = ma.on(vox::EventType::SendMessage, a_sent.sink());
    auto s7 = ma.on(vox::EventType::Read, a_read.sink());

    uint64_t id_a = im_id(mb, "user1@app.acc"), id_b = im_id(ma, "user2@app.acc");
    vox::ConversationConfig cc;
    vox::Participant p;
    p.im_user_id = id_b;
    p.can_write = true;
    cc.participants = {p};
    cc.title = "C++ test";
    cc.custom_data_json = R"({"from":"C++"})";
    vox::Conversation conv_a = ma.create_conversation(cc).get_within(kWait);
    EXPECT_EQ(conv_a.title(), "C++ test");
    std::string uuid = conv_a.uuid();

    // B is told and chats back on the conversation object from the event.
    vox::Event created = b_created.next([&](const vox::Event& e) { return e.conversation_uuid() == uuid; });
    EXPECT_EQ(created.initiator().value(), id_a);
    vox::Conversation conv_b = created.conversation();
    EXPECT_EQ(conv_b.uuid(), uuid);

    vox::Message sent = conv_a.send_message("Hello, B! \xc3\xa9", R"([{"type":"greeting"}])").get_within(kWait);
    EXPECT_EQ(sent.text(), "Hello, B! \xc3\xa9");
    vox::Message got = b_sent.next([&](const vox::Event& e) { return e.conversation_uuid() == uuid; }).message();
    EXPECT_EQ(got.text(), "Hello, B! \xc3\xa9");
    EXPECT_EQ(got.sender(), id_a);
    EXPECT_EQ(got.uuid(), sent.uuid());
    EXPECT_NE(got.payload_json().find("greeting"), std::string::npos);

    conv_b.send_message("Hi A").get_within(kWait);
    vox::Event back = a_sent.next([&](const vox::Event& e) { return e.message().sender() == id_b; });
    EXPECT_EQ(back.message().text(), "Hi A");
    uint64_t seq = back.sequence().value();

    conv_b.mark_as_read(seq).get_within(kWait);
    vox::Event read = a_read.next();
    EXPECT_EQ(read.initiator().value(), id_b);
    EXPECT_EQ(read.sequence().value(), seq);

    conv_a.typing().get_within(kWait);
    EXPECT_EQ(b_typing.next().initiator().value(), id_a);
    // A second typing within 10 s is discarded locally.
    auto discarded = expect_error([&] { conv_a.typing().get_within(kWait); });
    EXPECT_EQ(discarded.status(), VOX_ERR_CALL_DISCARDED);

    // Edit and remove the first message; B sees both.
    sent.update("Hello again", std::nullopt).get_within(kWait);
    EXPECT_EQ(b_edited.next().message().text(), "Hello again");
    sent.remove().get_within(kWait);
    EXPECT_EQ(b_removed.next().message().uuid(), sent.uuid());

    // Callback form: the reply arrives through a Result on the callback thread.
    std::promise<std::string> text;
    conv_b.send_message("via callback", [&](vox::Result<vox::Message> r) {
        text.set_value(r.ok() ? r.value().text() : std::string("error: ") + r.error()->what());
    });
    auto f = text.get_future();
    ASSERT_EQ(f.wait_for(kWait), std::future_status::ready);
    EXPECT_EQ(f.get(), "via callback");

    a.disconnect().get_within(kWait);
    b.disconnect().get_within(kWait);
    EXPECT_EQ(a.state(), vox::ClientState::Disconnected);
}

TEST(Messenger, EveryMethod) {
    vox::Client a = logged_in(kUser1);
    vox::Client c3 = logged_in(kUser3);
    vox::Messenger m = a.messenger(), m3 = c3.messenger();

    EXPECT_EQ(m.get_me().value().name, "user1@app.acc");
    vox::User u2 = m.get_user_by_name("user2@app.acc").get_within(kWait);
    EXPECT_EQ(u2.name, "user2@app.acc");
    vox::User u2b = m.get_user_by_im_id(u2.im_id).get_within(kWait);
    EXPECT_EQ(u2b.name, u2.name);
    auto users = m.get_users_by_name({"user2@app.acc", "user3@app.acc"}).get_within(kWait);
    ASSERT_EQ(users.size(), 2u);
    EXPECT_EQ(users[1].name, "user3@app.acc");
    auto users2 = m.get_users_by_im_id({users[1].im_id, u2.im_id}).get_within(kWait);
    ASSERT_EQ(users2.size(), 2u);
    EXPECT_EQ(users2[0].im_id, users[1].im_id);

    vox::Event edited = m.edit_user(R"({"mood":"testing"})", R"({"secret":1})").get_within(kWait);
    EXPECT_EQ(edited.type(), vox::EventType::EditUser);
    vox::User me = m.get_user_by_name("user1@app.acc").get_within(kWait);
    EXPECT_NE(me.custom_data_json.find("testing"), std::string::npos);

    EXPECT_TRUE(m.set_status(true).get_within(kWait).is_online());

    auto sub = m.subscribe({u2.im_id}).get_within(kWait).user_ids();
    EXPECT_EQ(sub, std::vector<uint64_t>{u2.im_id});
    auto subs = m.get_subscriptions().get_within(kWait);
    EXPECT_NE(std::find(subs.begin(), subs.end(), u2.im_id), subs.end());
    EXPECT_EQ(m.unsubscribe({u2.im_id}).get_within(kWait).type(), vox::EventType::Unsubscribe);
    m.subscribe({users[1].im_id}).get_within(kWait);
    EXPECT_EQ(m.unsubscribe_from_all().get_within(kWait).type(), vox::EventType::Unsubscribe);
    EXPECT_TRUE(m.get_subscriptions().get_within(kWait).empty());

    EXPECT_EQ(m.manage_push_notifications({vox::Notification::SendMessage, vox::Notification::EditMessage})
                  .get_within(kWait)
                  .type(),
              vox::EventType::EditUser);

    // Conversations: a public one that user3 joins and leaves.
    vox::ConversationConfig cc;
    cc.title = "public C++";
    cc.participants = {vox::Participant{u2.im_id}};
    cc.public_join = true;
    vox::Conversation conv = m.create_conversation(cc).get_within(kWait);
    std::string uuid = conv.uuid();
    EXPECT_TRUE(conv.is_public_join());
    EXPECT_FALSE(conv.is_direct());
    EXPECT_FALSE(conv.is_uber());
    EXPECT_GT(conv.created_time(), 0);
    EXPECT_GE(conv.last_update_time(), conv.created_time());

    EXPECT_EQ(m.get_conversation(uuid).get_within(kWait).title(), "public C++");
    auto convs = m.get_conversations({uuid}).get_within(kWait);
    ASSERT_EQ(convs.size(), 1u);
    EXPECT_EQ(convs[0].uuid(), uuid);
    auto pub = m3.get_public_conversations().get_within(kWait);
    EXPECT_NE(std::find(pub.begin(), pub.end(), uuid), pub.end());
    EXPECT_EQ(m3.join_conversation(uuid).get_within(kWait).type(), vox::EventType::EditConversation);
    EXPECT_EQ(m.get_conversation(uuid).get_within(kWait).participants().size(), 3u);
    EXPECT_EQ(m3.leave_conversation(uuid).get_within(kWait).type(), vox::EventType::EditConversation);

    // Conversation calls: update, participants, retransmit.
    conv.set_title("renamed");
    conv.set_custom_data_json(R"({"k":"v"})");
    conv.set_public_join(false);
    EXPECT_EQ(conv.update().get_within(kWait).type(), vox::EventType::EditConversation);
    EXPECT_EQ(m.get_conversation(uuid).get_within(kWait).title(), "renamed");
    auto bad_json = expect_error([&] { conv.set_custom_data_json("not json"); });
    EXPECT_EQ(bad_json.status(), VOX_ERR_INVALID_JSON);

    vox::Participant p3;
    p3.im_user_id = users[1].im_id;
    conv.add_participants({p3}).get_within(kWait);
    p3.can_write = true;
    p3.can_manage_participants = true;
    conv.edit_participants({p3}).get_within(kWait);
    auto ps = m.get_conversation(uuid).get_within(kWait).participants();
    auto it = std::find_if(ps.begin(), ps.end(), [&](const vox::Participant& p) { return p.im_user_id == p3.im_user_id; });
    ASSERT_NE(it, ps.end());
    EXPECT_TRUE(it->can_manage_participants);
    conv.remove_participants({p3.im_user_id}).get_within(kWait);
    EXPECT_EQ(m.get_conversation(uuid).get_within(kWait).participants().size(), 2u);

    conv.send_message("one").get_within(kWait);
    conv.send_message("two").get_within(kWait);
    vox::Conversation fresh = m.get_conversation(uuid).get_within(kWait);
    uint64_t last = fresh.last_sequence();
    ASSERT_GE(last, 2u);
    vox::Event re = fresh.retransmit_events(1, last).get_within(kWait);
    EXPECT_EQ(re.type(), vox::EventType::RetransmitEvents);
    EXPECT_FALSE(re.items().empty());
    EXPECT_EQ(re.retransmit_range().second, last);
    EXPECT_FALSE(fresh.retransmit_events_from(1, 10).get_within(kWait).items().empty());
    EXPECT_FALSE(fresh.retransmit_events_to(last, 10).get_within(kWait).items().empty());
    auto range = expect_error([&] { fresh.retransmit_events(5, 1).get_within(kWait); });
    EXPECT_EQ(range.status(), VOX_ERR_INVALID_ARGUMENT);

    // A conversation that does not exist: the server's code 8 (or 1) in the error.
    auto missing = expect_error([&] { m.get_conversation("00000000-0000-0000-0000-000000000000").get_within(kWait); });
    EXPECT_EQ(missing.status(), VOX_ERR_MESSENGER);
    EXPECT_NE(missing.code(), 0);

    // Recreated objects (no network) work for further calls.
    vox::Conversation rec = m.recreate_conversation({}, uuid, last, 0, 0);
    EXPECT_EQ(rec.uuid(), uuid);
    EXPECT_EQ(rec.send_message("on a recreated conversation").get_within(kWait).text(),
              "on a recreated conversation");
    vox::Message rm = m.recreate_message("11111111-1111-1111-1111-111111111111", uuid, "cached", std::nullopt, 3);
    EXPECT_EQ(rm.text(), "cached");
    EXPECT_EQ(rm.sequence(), 3u);
    EXPECT_EQ(rm.conversation_uuid(), uuid);
    auto bad_payload = expect_error([&] { m.recreate_message("x", uuid, "t", std::string("{}"), 1); });
    EXPECT_EQ(bad_payload.status(), VOX_ERR_INVALID_JSON);

    // on/off: a second messenger object shares the listeners of the client.
    Inbox inbox;
    {
        vox::Subscription s = a.messenger().on(vox::EventType::SendMessage, inbox.sink());
        EXPECT_TRUE(s.active());
        conv.send_message("seen").get_within(kWait);
        EXPECT_EQ(inbox.next().message().text(), "seen");
    }
    auto bad_type = expect_error([&] { auto s = m.on(static_cast<vox::EventType>(99), [](vox::Event) {}); });
    EXPECT_NE(bad_type.status(), VOX_OK);

    // Client-level calls: one-time key, token login and refresh, network hint, client events.
    // (request_one_time_login_key needs a connected client that is not logged in: see t3.)
    auto logged = expect_error([&] { a.request_one_time_login_key(kUser1).get_within(kWait); });
    EXPECT_EQ(logged.status(), VOX_ERR_INVALID_STATE);
    EXPECT_EQ(vox::one_time_key_hash("k", "user1", "secret").size(), 32u);
    vox::Client t(config(g_ws));
    std::mutex emu;
    std::condition_variable ecv;
    std::vector<vox::ClientState> states;
    auto es = t.on_event([&](const vox::ClientEvent& e) {
        std::lock_guard<std::mutex> g(emu);
        if (e.kind == vox::ClientEventKind::StateChanged) states.push_back(e.state);
        ecv.notify_all();
    });
    t.connect().get_within(kWait);
    auto lr = t.login(kUser1, "secret").get_within(kWait);
    {
        std::unique_lock<std::mutex> g(emu);
        EXPECT_TRUE(ecv.wait_for(g, kWait, [&] {
            return std::find(states.begin(), states.end(), vox::ClientState::LoggedIn) != states.end();
        }));
    }
    t.notify_network_changed();
    ASSERT_TRUE(lr.access_token.has_value());
    ASSERT_TRUE(lr.refresh_token.has_value());
    EXPECT_GT(lr.access_expire, 0u);
    {
        vox::Client t2(config(g_ws));
        t2.connect().get_within(kWait);
        auto refreshed = t2.token_refresh(kUser1, *lr.refresh_token).get_within(kWait);
        ASSERT_TRUE(refreshed.access_token.has_value());
        EXPECT_FALSE(t2.login_with_token(kUser1, *refreshed.access_token).get_within(kWait).display_name.empty());
    }
    vox::Client t3(config(g_ws));
    t3.connect().get_within(kWait);
    std::string key3 = t3.request_one_time_login_key(kUser1).get_within(kWait);
    auto otk = t3.login_with_one_time_key(kUser1, vox::one_time_key_hash(key3, "user1", "secret")).get_within(kWait);
    EXPECT_FALSE(otk.display_name.empty());
}

// A cancelled connect completes with VOX_ERR_CANCELLED, like every other cancelled call.
bool is_cancelled_connect(const vox::Error& e) { return e.status() == VOX_ERR_CANCELLED; }

/// Waits for the single Result a callback-form call delivers.
template <class R>
struct Got {
    // Shared with the callback: the promise must outlive set_value() on the callback thread.
    std::shared_ptr<std::promise<vox::Result<R>>> p = std::make_shared<std::promise<vox::Result<R>>>();
    std::shared_ptr<std::atomic<int>> count = std::make_shared<std::atomic<int>>(0);
    vox::Callback<R> cb() {
        return [p = p, count = count](vox::Result<R> r) {
            (*count)++;
            p->set_value(std::move(r));
        };
    }
    int calls() const { return count->load(); }
    vox::Result<R> get() {
        auto f = p->get_future();
        if (f.wait_for(kWait) != std::future_status::ready) throw std::runtime_error("no callback");
        return f.get();
    }
};

TEST(Callbacks, CallbackFormsDeliverValuesAndErrors) {
    vox::Client c(config(g_ws));
    Got<void> connected;
    c.connect(connected.cb());
    EXPECT_TRUE(connected.get().ok());
    Got<vox::LoginResult> login;
    c.login(kUser1, "secret", login.cb());
    EXPECT_EQ(login.get().value().display_name.empty(), false);
    vox::Messenger m = c.messenger();

    Got<std::vector<vox::User>> users;
    m.get_users_by_name({"user2@app.acc", "user3@app.acc"}, users.cb());
    auto ur = users.get();
    ASSERT_TRUE(ur.ok());
    ASSERT_EQ(ur.value().size(), 2u);

    Got<vox::Conversation> created;
    vox::ConversationConfig cc;
    cc.participants = {vox::Participant{ur.value()[0].im_id}};
    cc.title = "callbacks";
    m.create_conversation(cc, created.cb());
    auto conv = std::move(created.get()).value();
    EXPECT_EQ(conv.title(), "callbacks");

    Got<vox::Message> sent;
    conv.send_message("cb", R"([{"k":1}])", sent.cb());
    EXPECT_EQ(sent.get().value().text(), "cb");

    Got<vox::Event> read;
    conv.mark_as_read(1, read.cb());
    EXPECT_EQ(read.get().value().type(), vox::EventType::Read);

    // An error arrives as a Result holding the vox::Error; value() rethrows it.
    Got<vox::Conversation> missing;
    m.get_conversation("00000000-0000-0000-0000-000000000000", missing.cb());
    auto mr = missing.get();
    ASSERT_FALSE(mr.ok());
    EXPECT_EQ(mr.error()->status(), VOX_ERR_MESSENGER);
    EXPECT_THROW(mr.value(), vox::Error);

    // A local rejection throws from the call and never runs the callback.
    Got<vox::Message> bad;
    EXPECT_THROW(conv.send_message("x", std::string("not json"), bad.cb()), vox::Error);
    EXPECT_EQ(bad.calls(), 0);

    Got<void> gone;
    c.disconnect(gone.cb());
    EXPECT_TRUE(gone.get().ok());
    EXPECT_EQ(connected.calls() + login.calls() + gone.calls(), 3);
}

TEST(Callbacks, ThrowingListenerDoesNotStopDelivery) {
    vox::Client a = logged_in(kUser1);
    vox::Messenger m = a.messenger();
    Inbox inbox;
    auto s1 = m.on(vox::EventType::SetStatus, [](vox::Event) { throw std::runtime_error("listener threw (expected)"); });
    auto s2 = m.on(vox::EventType::SetStatus, inbox.sink());
    m.set_status(true).get_within(kWait);
    m.set_status(false).get_within(kWait);
    EXPECT_TRUE(inbox.next().is_online());
    EXPECT_FALSE(inbox.next().is_online());
}

TEST(Cancel, PendingConnectFutureAndCallbackForms) {
    BlackHole hole;
    vox::ClientConfig cfg(hole.url());
    cfg.timeouts(60s, 60s);
    vox::Client c(cfg);
    auto f = c.connect();
    EXPECT_NE(f.id(), 0u);
    EXPECT_EQ(f.wait_for(0ms), std::future_status::timeout);
    f.cancel();
    f.cancel();  // idempotent
    auto e = expect_error([&] { f.get_within(kWait); });
    EXPECT_TRUE(is_cancelled_connect(e)) << e.status() << " " << e.what();

    vox::Client c2(cfg);
    std::promise<vox::Error> error;
    std::atomic<int> calls{0};
    vox::Operation op = c2.connect([&](vox::Result<void> r) {
        calls++;
        error.set_value(r.ok() ? vox::Error(0, 0, "ok") : *r.error());
    });
    c2.cancel(op.id());
    auto ef = error.get_future();
    ASSERT_EQ(ef.wait_for(kWait), std::future_status::ready);
    auto e2 = ef.get();
    EXPECT_TRUE(is_cancelled_connect(e2)) << e2.status() << " " << e2.what();
    EXPECT_EQ(calls.load(), 1);
}

TEST(Cancel, QueuedRequestCompletesWithCancelled) {
    // With a 5 s request spacing the second request waits in the client's queue: cancelling it
    // is deterministic.
    vox::Client a = logged_in(kUser1, vox::Digest::Md5, 5000ms);
    vox::Messenger m = a.messenger();
    auto first = m.get_user_by_name("user2@app.acc");
    auto queued = m.get_user_by_name("user3@app.acc");
    std::promise<int32_t> cb_status;
    vox::Operation op = m.get_user_by_name("user3@app.acc", [&](vox::Result<vox::User> r) {
        cb_status.set_value(r.ok() ? 0 : r.error()->status());
    });
    queued.cancel();
    op.cancel();
    auto e = expect_error([&] { queued.get_within(kWait); });
    EXPECT_EQ(e.status(), VOX_ERR_CANCELLED) << e.what();
    auto sf = cb_status.get_future();
    ASSERT_EQ(sf.wait_for(kWait), std::future_status::ready);
    EXPECT_EQ(sf.get(), VOX_ERR_CANCELLED);
    EXPECT_EQ(first.get_within(kWait).name, "user2@app.acc");
}

TEST(Cancel, ThroughTheConversationsOwnClient) {
    // A queued send (5 s spacing) is cancelled through the client the conversation knows.
    vox::Client a = logged_in(kUser1, vox::Digest::Md5, 5000ms);
    vox::Messenger m = a.messenger();
    vox::Client b = logged_in(kUser2);
    vox::ConversationConfig cc;
    cc.title = "cancel via conversation";
    cc.participants = {vox::Participant{b.messenger().get_me()->im_id}};  // local: no round trip
    vox::Conversation conv = m.create_conversation(cc).get_within(kWait);
    EXPECT_EQ(conv.client_handle(), a.native());
    auto queued = conv.send_message("never");
    conv.cancel(queued.id());
    EXPECT_EQ(expect_error([&] { queued.get_within(kWait); }).status(), VOX_ERR_CANCELLED);
}

TEST(Listeners, OneSubscriptionForSeveralEventTypes) {
    vox::Client a = logged_in(kUser1);
    vox::Client b = logged_in(kUser2);
    vox::Messenger ma = a.messenger(), mb = b.messenger();
    Inbox both;
    auto sub = mb.on({vox::EventType::CreateConversation, vox::EventType::SendMessage}, both.sink());
    vox::ConversationConfig cc;
    cc.title = "mask";
    cc.participants = {vox::Participant{im_id(ma, "user2@app.acc")}};
    vox::Conversation conv = ma.create_conversation(cc).get_within(kWait);
    conv.send_message("one listener, two types").get_within(kWait);
    EXPECT_EQ(both.next().type(), vox::EventType::CreateConversation);
    EXPECT_EQ(both.next().type(), vox::EventType::SendMessage);
    sub.reset();
    EXPECT_FALSE(sub.active());
}

TEST(Cancel, RequestOnLiveServerCompletesOnceEitherWay) {
    vox::Client a = logged_in(kUser1);
    vox::Messenger m = a.messenger();
    auto f = m.get_user_by_name("user2@app.acc");
    f.cancel();
    try {
        EXPECT_EQ(f.get_within(kWait).name, "user2@app.acc");
    } catch (const vox::Error& e) {
        EXPECT_EQ(e.status(), VOX_ERR_CANCELLED);
    }
    // The client stays usable.
    EXPECT_EQ(m.get_user_by_name("user2@app.acc").get_within(kWait).name, "user2@app.acc");
}

TEST(Lifetime, ClientDestroyedWithRequestsInFlight) {
    std::vector<vox::Future<vox::User>> users;
    auto latch = std::make_shared<Latch>();
    vox::Future<void> pending_connect;
    vox::Subscription sub;  // outlives the client: its destructor runs after the free
    {
        BlackHole hole;
        vox::Client stuck(vox::ClientConfig(hole.url()).timeouts(60s, 60s));
        pending_connect = stuck.connect();
        vox::Client a = logged_in(kUser1);
        vox::Messenger m = a.messenger();
        auto guard = std::make_shared<SignalOnDestroy>(SignalOnDestroy{latch});
        sub = m.on(vox::EventType::SendMessage, [guard](vox::Event) {});
        guard.reset();
        for (int i = 0; i < 20; i++) users.push_back(m.get_user_by_name("user2@app.acc"));
        // Destroyed here in reverse order: m, a (20 requests in flight), stuck (connect pending).
    }
    // Every future completes: with its value, or with CONNECTION_CLOSED.
    for (auto& f : users) {
        try {
            f.get_within(kWait);
        } catch (const vox::Error& e) {
            EXPECT_EQ(e.status(), VOX_ERR_CONNECTION_CLOSED) << e.what();
        }
    }
    auto e = expect_error([&] { pending_connect.get_within(kWait); });
    // The header promises VOX_ERR_CONNECTION_CLOSED; the library completes a connect in progress
    // with VOX_ERR_CONNECTION_FAILED "disconnected by the application" (reported as an ABI gap).
    EXPECT_TRUE(e.status() == VOX_ERR_CONNECTION_CLOSED || e.status() == VOX_ERR_CONNECTION_FAILED)
        << e.status() << " " << e.what();
    EXPECT_TRUE(latch->wait()) << "the listener's std::function was not released";
    sub.reset();
}

TEST(Lifetime, ClientFreedBeforeSubscriptionAndMessenger) {
    auto latch = std::make_shared<Latch>();
    vox::Subscription sub;
    std::optional<vox::Messenger> m;
    {
        vox::Client a = logged_in(kUser1);
        m.emplace(a.messenger());
        auto guard = std::make_shared<SignalOnDestroy>(SignalOnDestroy{latch});
        sub = m->on(vox::EventType::Typing, [guard](vox::Event) {});
    }
    EXPECT_TRUE(latch->wait());  // freeing the client released the listener
    sub.reset();                 // unregistering afterwards is harmless
    m.reset();
}

TEST(Lifetime, ConversationsAndMessagesOutliveTheClient) {
    std::optional<vox::Conversation> conv;
    std::optional<vox::Message> msg;
    std::string uuid;
    {
        vox::Client a = logged_in(kUser1);
        vox::Messenger m = a.messenger();
        vox::ConversationConfig cc;
        cc.title = "outlives";
        cc.participants = {vox::Participant{im_id(m, "user2@app.acc")}};
        conv.emplace(m.create_conversation(cc).get_within(kWait));
        uuid = conv->uuid();
        msg.emplace(conv->send_message("kept").get_within(kWait));
    }
    // Their client is gone: the borrowed handle says so.
    EXPECT_EQ(expect_error([&] { conv->client_handle(); }).status(), VOX_ERR_INVALID_HANDLE);
    EXPECT_EQ(expect_error([&] { msg->client_handle(); }).status(), VOX_ERR_INVALID_HANDLE);
    // Reading still works.
    EXPECT_EQ(conv->uuid(), uuid);
    EXPECT_EQ(conv->title(), "outlives");
    EXPECT_EQ(msg->text(), "kept");
    // Network calls fail, thrown at once or through the future.
    auto e = expect_error([&] { conv->send_message("too late").get_within(kWait); });
    EXPECT_NE(e.status(), VOX_OK);
    auto e2 = expect_error([&] { msg->remove().get_within(kWait); });
    EXPECT_NE(e2.status(), VOX_OK);
    vox::Conversation copy = conv->clone();
    conv.reset();
    EXPECT_EQ(copy.uuid(), uuid);
}

TEST(Lifetime, SubscriptionDestroyedInsideItsOwnListener) {
    vox::Client a = logged_in(kUser1);
    vox::Messenger m = a.messenger();
    auto latch = std::make_shared<Latch>();
    auto holder = std::make_shared<std::optional<vox::Subscription>>();
    std::promise<void> fired;
    auto guard = std::make_shared<SignalOnDestroy>(SignalOnDestroy{latch});
    *holder = m.on(vox::EventType::SetStatus, [holder, guard, &fired](vox::Event) {
        if (holder->has_value()) {
            holder->reset();  // unregister from inside the listener
            fired.set_value();
        }
    });
    guard.reset();
    m.set_status(true).get_within(kWait);
    ASSERT_EQ(fired.get_future().wait_for(kWait), std::future_status::ready);
    // The listener's std::function (holding `holder` and `guard`) is released afterwards: break
    // the cycle holder -> subscription -> box -> holder by the reset above.
    holder.reset();
    EXPECT_TRUE(latch->wait());
}

TEST(Lifetime, SubscriptionResetWaitsUntilTheListenerIsGone) {
    vox::Client a = logged_in(kUser1);
    vox::Messenger m = a.messenger();
    auto latch = std::make_shared<Latch>();
    std::promise<void> in_listener;
    std::atomic<bool> first{true};
    {
        auto guard = std::make_shared<SignalOnDestroy>(SignalOnDestroy{latch});
        vox::Subscription s = m.on(vox::EventType::SetStatus, [guard, &in_listener, &first](vox::Event) {
            if (first.exchange(false)) in_listener.set_value();
        });
        auto cs = a.on_event([guard](const vox::ClientEvent&) {});
        guard.reset();
        m.set_status(false).get_within(kWait);
        ASSERT_EQ(in_listener.get_future().wait_for(kWait), std::future_status::ready);
    }
    // Both subscriptions are gone and their std::functions destroyed before the scope ended:
    // the latch is already set (no waiting here).
    std::lock_guard<std::mutex> g(latch->mu);
    EXPECT_TRUE(latch->set);
}

TEST(Lifetime, ClientListenerOutlivesTheClient) {
    auto latch = std::make_shared<Latch>();
    vox::Subscription sub;
    {
        vox::Client c(config(g_ws));
        auto guard = std::make_shared<SignalOnDestroy>(SignalOnDestroy{latch});
        sub = c.on_event([guard](const vox::ClientEvent&) {});
        c.connect().get_within(kWait);
    }
    sub.reset();  // the client is gone: nothing to unregister, returns once released
    std::lock_guard<std::mutex> g(latch->mu);
    EXPECT_TRUE(latch->set);
}

TEST(Lifetime, NoHandlesLeakAfterASession) {
    // A full session returns the count to (at most) its start; handles of earlier tests may still
    // be on their way out (released on the callback thread), hence <=.
    uint64_t before = vox_debug_live_handles();
    {
        vox::Client a = logged_in(kUser1);
        vox::Messenger m = a.messenger();
        Inbox inbox;
        auto s = m.on(vox::EventType::SendMessage, inbox.sink());
        vox::ConversationConfig cc;
        cc.title = "leak check";
        cc.participants = {vox::Participant{im_id(m, "user2@app.acc")}};
        vox::Conversation c = m.create_conversation(cc).get_within(kWait);
        c.send_message("x").get_within(kWait);
        inbox.next();
        auto users = m.get_users_by_name({"user2@app.acc"}).get_within(kWait);
        a.disconnect().get_within(kWait);
    }
    EXPECT_LE(vox_debug_live_handles(), before);
}

int main(int argc, char** argv) {
    ::testing::InitGoogleTest(&argc, argv);
    ::testing::AddGlobalTestEnvironment(new ServerEnv);
    return RUN_ALL_TESTS();
}
