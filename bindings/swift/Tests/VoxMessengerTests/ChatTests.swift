// Two users chat through a running dev server. NOT RUN IN CI (no Swift toolchain there).
//
//   cargo build -p vox-messenger -p vox-messenger-server
//   target/debug/vox-messenger-server --dev --plain-listen 127.0.0.1:0   # prints READY {"ws":"127.0.0.1:PORT",…}
//   cd bindings/swift && VOX_TEST_WS=ws://127.0.0.1:PORT swift test
//
// Without VOX_TEST_WS the tests are skipped.
import Foundation
import VoxMessenger
import XCTest

/// Collects what a stream delivers, so that a test can wait for a matching element.
actor Recorder<Element: Sendable> {
    private(set) var elements: [Element] = []
    private var task: Task<Void, Never>?

    func start(_ stream: AsyncStream<Element>) {
        task = Task { for await element in stream { self.add(element) } }
    }

    private func add(_ element: Element) { elements.append(element) }

    /// Ends the recording: the stream terminates and its listener is removed.
    func stop() { task?.cancel() }

    /// The first element matching `match`, waiting up to `seconds`.
    func waitFor(seconds: Int = 10, _ match: @Sendable (Element) -> Bool) async throws -> Element {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while ContinuousClock.now < deadline {
            if let found = elements.first(where: match) { return found }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw VoxError(status: VoxError.timeout, message: "no matching event within \(seconds) s")
    }
}

final class ChatTests: XCTestCase {
    private func server() throws -> String {
        guard let ws = ProcessInfo.processInfo.environment["VOX_TEST_WS"] else {
            throw XCTSkip("set VOX_TEST_WS=ws://127.0.0.1:PORT (a dev server's plain ws address)")
        }
        return ws
    }

    private func loggedIn(_ user: String) async throws -> (Client, Messenger) {
        let address = try server()
        let client = try Client(server: address)
        try await client.connect()
        let login = try await client.login(user: "\(user)@app.acc.voximplant.com", password: "secret")
        XCTAssertFalse(login.displayName.isEmpty)
        XCTAssertEqual(try client.state, .loggedIn)
        return (client, try client.messenger())
    }

    func testTwoUsersChat() async throws {
        XCTAssertTrue(Client.isABICompatible)
        _ = try server()  // skip early without a server
        let before = Client.debugLiveHandles
        try await chat()
        // Every Client, Messenger, Conversation and Message of chat() is released: their handles
        // are freed (the listeners' releases run on the callback thread, hence the wait).
        let deadline = ContinuousClock.now + .seconds(5)
        while Client.debugLiveHandles != before && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(50))
        }
        XCTAssertEqual(Client.debugLiveHandles, before)
    }

    private func chat() async throws {
        let (a, ma) = try await loggedIn("user1")
        let (b, mb) = try await loggedIn("user2")
        let me = try ma.me  // the whole user, no round trip
        XCTAssertTrue(me.name.hasPrefix("user1@"))
        XCTAssertGreaterThan(me.imId, 0)
        XCTAssertFalse(Client.isCallbackThread)

        let eventsA = Recorder<MessengerEvent>()
        let eventsB = Recorder<MessengerEvent>()
        let connectionA = Recorder<ConnectionEvent>()
        let streamA = try ma.events()
        let streamB = try mb.events([.createConversation, .sendMessage, .editMessage, .typing])
        let connectionStreamA = try a.connectionEvents()
        await eventsA.start(streamA)
        await eventsB.start(streamB)
        await connectionA.start(connectionStreamA)

        // user1 opens a conversation with user2 and writes.
        let user1 = try await mb.user(named: "user1@app.acc")
        let user2 = try await ma.user(named: "user2@app.acc")
        XCTAssertTrue(user2.name.hasPrefix("user2@"))
        let conversation = try await ma.createConversation(
            ConversationConfig(participants: [Participant(imUserId: user2.imId)], title: "Swift test"))
        XCTAssertEqual(conversation.info.title, "Swift test")
        let sent = try await conversation.send(text: "Hello from Swift", payload: #"[{"k":1}]"#)
        let sentInfo = sent.info
        XCTAssertEqual(sentInfo.text, "Hello from Swift")
        XCTAssertEqual(sentInfo.sender, user1.imId)

        // user2 is told about the conversation and receives the message.
        let created = try await eventsB.waitFor { $0.type == .createConversation }
        XCTAssertEqual(created.conversationUUID, conversation.uuid)
        let received = try await eventsB.waitFor { $0.type == .sendMessage && $0.message?.uuid == sentInfo.uuid }
        XCTAssertEqual(received.message?.text, "Hello from Swift")
        XCTAssertEqual(received.initiator, user1.imId)

        // Typing and an edit reach user2 too.
        try await conversation.typing()
        _ = try await eventsB.waitFor { $0.type == .typing && $0.initiator == user1.imId }
        try await sent.update(text: "Hello from Swift (edited)")
        let edited = try await eventsB.waitFor { $0.type == .editMessage }
        XCTAssertEqual(edited.message?.text, "Hello from Swift (edited)")

        // user2 answers in the same conversation and marks it read; user1 sees both.
        let conversationB = try await mb.conversation(uuid: conversation.uuid)
        try await conversationB.markAsRead(upTo: conversationB.info.lastSequence)
        let reply = try await conversationB.send(text: "Hi user1")
        let replyUUID = reply.info.uuid
        let readMark = try await eventsA.waitFor { $0.type == .read }
        XCTAssertEqual(readMark.initiator, user2.imId)
        let answer = try await eventsA.waitFor { $0.type == .sendMessage && $0.message?.uuid == replyUUID }
        XCTAssertEqual(answer.message?.sender, user2.imId)

        // History.
        let history = try await conversation.retransmitEvents(to: reply.info.sequence, count: 10)
        XCTAssertTrue(history.items.contains { $0.message?.uuid == replyUUID })

        // A refused call carries the protocol's code.
        do {
            _ = try await ma.conversation(uuid: "00000000-0000-0000-0000-000000000000")
            XCTFail("expected an error")
        } catch let error as VoxError {
            XCTAssertEqual(error.status, VoxError.messenger)
        }

        // Cancellation: the call fails with `cancelled`, unless it finished first.
        let task = Task { try await ma.user(named: "user3@app.acc") }
        task.cancel()
        do {
            _ = try await task.value
        } catch let error as VoxError {
            XCTAssertTrue(error.isCancelled, "\(error)")
        }

        await eventsA.stop()
        await eventsB.stop()
        try await a.disconnect()
        try await b.disconnect()
        XCTAssertEqual(try a.state, .disconnected)
        _ = try await connectionA.waitFor { $0.kind == .stateChanged && $0.state == .disconnected }
        await connectionA.stop()
    }

    func testWrongPasswordIsRefused() async throws {
        let address = try server()
        let client = try Client(server: address)
        try await client.connect()
        do {
            _ = try await client.login(user: "user3@app.acc.voximplant.com", password: "wrong")
            XCTFail("expected a refused login")
        } catch let error as VoxError {
            XCTAssertEqual(error.status, VoxError.loginFailed)
            XCTAssertEqual(error.code, 401)
        }
        try await client.disconnect()
    }
}
