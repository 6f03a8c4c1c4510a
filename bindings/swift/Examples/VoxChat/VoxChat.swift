// A console chat over VoxMessenger: the Swift counterpart of examples/c_chat.c. Not built in CI.
//
//   swift run VoxChat ws://127.0.0.1:PORT user1@app.acc.voximplant.com secret user2@app.acc
//       opens a conversation with the peer; type a line to send it, "/quit" to leave.
//   swift run VoxChat ws://127.0.0.1:PORT user2@app.acc.voximplant.com secret
//       answers in the conversation of the first message it receives (the demo page works too).
import Foundation
import VoxMessenger

/// Where typed lines go.
actor Target {
    private(set) var conversation: Conversation?
    func offer(_ candidate: Conversation?) {
        if conversation == nil { conversation = candidate }
    }
}

@main
struct VoxChat {
    static func main() async throws {
        let args = CommandLine.arguments
        guard args.count >= 4 else {
            print("usage: VoxChat ws://HOST:PORT USER PASSWORD [PEER]")
            exit(2)
        }
        let client = try Client(server: args[1])
        try await client.connect()
        let login = try await client.login(user: args[2], password: args[3])
        print("logged in as \(args[2]) (\(login.displayName))")
        let messenger = try client.messenger()

        let target = Target()
        if args.count > 4 {
            let peer = try await messenger.user(named: args[4])
            let conversation = try await messenger.createConversation(
                ConversationConfig(participants: [Participant(imUserId: peer.imId)], title: "Swift console chat"))
            await target.offer(conversation)
            print("conversation with \(args[4]) open; type a line to send it")
        } else {
            print("waiting for a message; type a line to answer")
        }

        let events = try messenger.events([.createConversation, .sendMessage, .editMessage, .typing, .read])
        // Detached: readLine() below blocks the main thread.
        let printer = Task.detached {
            for await event in events {
                switch event.type {
                case .sendMessage, .editMessage:
                    guard let message = event.message else { continue }
                    let verb = event.type == .editMessage ? "edited" : "message"
                    print("\(verb) #\(message.sequence) from \(message.sender): \(message.text)")
                    if await target.conversation == nil, let uuid = event.conversationUUID {
                        let conversation = try? messenger.recreateConversation(uuid: uuid)
                        await target.offer(conversation)
                    }
                case .typing:
                    print("user \(event.initiator ?? 0) is typing…")
                case .read:
                    print("user \(event.initiator ?? 0) read up to #\(event.sequence ?? 0)")
                case .createConversation:
                    print("added to conversation \(event.conversationUUID ?? "?") by user \(event.initiator ?? 0)")
                default:
                    break
                }
            }
        }

        while let line = readLine() {
            if line == "/quit" { break }
            if line.isEmpty { continue }
            guard let conversation = await target.conversation else {
                print("(no conversation yet)")
                continue
            }
            do {
                try await conversation.send(text: line)
            } catch {
                print("send failed: \(error)")
            }
        }
        printer.cancel()
        try await client.disconnect()
    }
}
