// chat.cpp — a console chat written against the C++ wrapper only.
//
//   vox_chat demo ws://HOST:PORT
//       user1 and user2 in one process: a scripted conversation, every event printed.
//   vox_chat chat ws://HOST:PORT USER PASSWORD [PEER]
//       interactive: with PEER (e.g. user2@app.acc) it opens a conversation with PEER; without,
//       it answers in the conversation of the first message it receives (the Web SDK demo page
//       or the C/Kotlin examples work as the other side). "/quit" leaves.
#include <vox/vox.hpp>

#include <iostream>
#include <mutex>
#include <optional>
#include <string>

namespace {

std::mutex out_mu;
template <class... A>
void say(const A&... a) {
    std::lock_guard<std::mutex> g(out_mu);
    ((std::cout << a), ...) << std::endl;
}

vox::Client connect_and_login(const std::string& server, const std::string& user, const std::string& password) {
    vox::Client client(server);
    client.connect().get();
    auto r = client.login(user, password).get();
    say("logged in as ", user, " (", r.display_name, ")");
    return client;
}

/// Prints messages, edits, typing and read events of one user; returns the subscriptions.
std::vector<vox::Subscription> print_events(const vox::Messenger& m, const std::string& who) {
    std::vector<vox::Subscription> subs;
    auto message = [who](vox::Event e) {
        vox::Message msg = e.message();
        say("[", who, "] ", e.type() == vox::EventType::EditMessage ? "edited" : "message", " #", msg.sequence(),
            " from ", msg.sender(), ": ", msg.text());
    };
    subs.push_back(m.on({vox::EventType::SendMessage, vox::EventType::EditMessage}, message));
    subs.push_back(m.on(vox::EventType::Typing,
                        [who](vox::Event e) { say("[", who, "] user ", e.initiator().value_or(0), " is typing…"); }));
    subs.push_back(m.on(vox::EventType::Read, [who](vox::Event e) {
        say("[", who, "] user ", e.initiator().value_or(0), " read up to #", e.sequence().value_or(0));
    }));
    return subs;
}

vox::Conversation open_with(const vox::Messenger& m, const std::string& peer) {
    vox::ConversationConfig cc;
    vox::Participant p;
    p.im_user_id = m.get_user_by_name(peer).get().im_id;
    cc.participants = {p};
    cc.title = "C++ console chat";
    return m.create_conversation(cc).get();
}

int demo(const std::string& server) {
    vox::Client a = connect_and_login(server, "user1@app.acc.voximplant.com", "secret");
    vox::Client b = connect_and_login(server, "user2@app.acc.voximplant.com", "secret");
    vox::Messenger ma = a.messenger(), mb = b.messenger();
    auto sa = print_events(ma, "user1");
    auto sb = print_events(mb, "user2");

    vox::Conversation conv = open_with(ma, "user2@app.acc");
    conv.send_message("Hello from C++!").get();
    conv.typing().get();
    conv.send_message("This message went through the C++ wrapper.").get();

    vox::Conversation conv_b = mb.get_conversation(conv.uuid()).get();
    conv_b.mark_as_read(conv_b.last_sequence()).get();
    conv_b.send_message("Hi user1, loud and clear.").get();

    a.disconnect().get();
    b.disconnect().get();
    say("demo done");
    return 0;
}

int chat(const std::string& server, const std::string& user, const std::string& password,
         const std::optional<std::string>& peer) {
    vox::Client client = connect_and_login(server, user, password);
    vox::Messenger m = client.messenger();
    std::mutex mu;
    std::optional<vox::Conversation> reply_to;
    if (peer) reply_to.emplace(open_with(m, *peer));
    auto subs = print_events(m, "in");
    // Without a peer: answer in the conversation of the first message received.
    auto first = m.on(vox::EventType::SendMessage, [&](vox::Event e) {
        std::lock_guard<std::mutex> g(mu);
        if (!reply_to) {
            reply_to.emplace(m.recreate_conversation({}, e.conversation_uuid(), 0, 0, 0));
            say("replying in conversation ", e.conversation_uuid());
        }
    });
    say(peer ? "conversation open; type a line to send it" : "waiting for a message; type a line to answer");
    std::string line;
    while (std::getline(std::cin, line) && line != "/quit") {
        if (line.empty()) continue;
        std::optional<vox::Conversation> conv;
        {
            std::lock_guard<std::mutex> g(mu);
            if (reply_to) conv.emplace(reply_to->clone());
        }
        if (!conv) {
            say("(no conversation yet)");
            continue;
        }
        try {
            conv->send_message(line).get();
        } catch (const vox::Error& e) {
            say("send failed: ", e.what(), " (status ", e.status(), ", code ", e.code(), ")");
        }
    }
    client.disconnect().get();
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        if (argc >= 3 && std::string(argv[1]) == "demo") return demo(argv[2]);
        if (argc >= 5 && std::string(argv[1]) == "chat")
            return chat(argv[2], argv[3], argv[4], argc > 5 ? std::optional<std::string>(argv[5]) : std::nullopt);
    } catch (const vox::Error& e) {
        std::cerr << "error: " << e.what() << " (status " << e.status() << ", code " << e.code() << ")\n";
        return 1;
    }
    std::cerr << "usage: " << argv[0] << " demo ws://HOST:PORT\n"
              << "       " << argv[0] << " chat ws://HOST:PORT USER PASSWORD [PEER]\n";
    return 2;
}
