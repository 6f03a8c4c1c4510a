/*
 * c_chat.c — a console chat in C over the vox-messenger C ABI.
 *
 * Build (from the repository root):
 *
 *   cargo build -p vox-messenger
 *   gcc -std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Iinclude examples/c_chat.c \
 *       -Ltarget/debug -lvox_messenger -Wl,-rpath,$PWD/target/debug -lpthread -o target/c_chat
 *
 * Run against a server (`cargo run -p vox-messenger-server -- --dev` prints its `plain ws` address):
 *
 *   target/c_chat demo ws://127.0.0.1:PORT
 *       two users (user1, user2) in one process: a scripted conversation, every event printed.
 *
 *   target/c_chat chat ws://127.0.0.1:PORT user1@app.acc.voximplant.com secret [PEER]
 *       interactive: with PEER (e.g. user2@app.acc) it opens a conversation with PEER; without,
 *       it answers in the conversation of the first message it receives (the demo page works as
 *       the other side). Type a line to send it, "/quit" to leave.
 */
#include "vox_messenger.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- a blocking wrapper around the asynchronous calls -------------------------------------- */

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done;
    int32_t status;
    char *error;       /* owned message, or NULL */
    vox_event *result; /* owned copy, or NULL */
} call_t;

static void call_done(void *user_data, int32_t status, const vox_error *error, const vox_event *result) {
    call_t *c = user_data;
    pthread_mutex_lock(&c->mu);
    c->status = status;
    c->error = error ? vox_error_message(error) : NULL;
    if (result) vox_event_clone(result, &c->result);
    c->done = 1;
    pthread_cond_signal(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

static void call_init(call_t *c) {
    memset(c, 0, sizeof *c);
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
}

static vox_completion completion(call_t *c) {
    vox_completion k = {call_done, c, NULL};
    return k;
}

/* Wait for the completion (never call this from a vox callback: it would wait forever). */
static vox_event *call_wait(call_t *c, int32_t start_status, const char *what) {
    if (start_status != VOX_OK) {
        fprintf(stderr, "%s: rejected with status %d\n", what, start_status);
        exit(1);
    }
    pthread_mutex_lock(&c->mu);
    while (!c->done) pthread_cond_wait(&c->cv, &c->mu);
    pthread_mutex_unlock(&c->mu);
    if (c->status != VOX_OK) {
        fprintf(stderr, "%s failed: %d %s\n", what, c->status, c->error ? c->error : "");
        exit(1);
    }
    vox_event *r = c->result;
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->cv);
    return r;
}

/* CALL("what", vox_xxx(..., K, NULL, NULL)) starts a call with a fresh completion K and waits
 * for its result. Only the main thread uses it. */
static call_t the_call;
#define K (call_init(&the_call), completion(&the_call))
#define CALL(what, expr) call_wait(&the_call, (expr), what)

/* ---- printing events (listeners run on the library's callback thread) ---------------------- */

typedef struct {
    const char *who;
    pthread_mutex_t mu;
    vox_conversation *reply_to; /* interactive mode: where typed lines go */
    vox_messenger *messenger;   /* interactive mode without a peer: to open reply_to */
} session;

static void print_message_event(void *user_data, const vox_event *ev) {
    session *s = user_data;
    vox_message *m = NULL;
    char *text = NULL;
    uint64_t sender = 0, seq = 0;
    int32_t type = 0;
    vox_event_type(ev, &type);
    if (vox_event_message(ev, &m) != VOX_OK) return;
    vox_message_text(m, &text);
    vox_message_sender(m, &sender);
    vox_message_sequence(m, &seq);
    printf("[%s] %s #%llu from %llu: %s\n", s->who, type == VOX_EVENT_EDIT_MESSAGE ? "edited" : "message",
           (unsigned long long)seq, (unsigned long long)sender, text);
    fflush(stdout);
    vox_string_free(text);
    vox_message_free(m);
    /* Interactive mode without a peer: answer in the first conversation that talks to us. */
    pthread_mutex_lock(&s->mu);
    if (!s->reply_to && s->messenger) {
        vox_conversation_config cc = {NULL, 0, NULL, false, false, false, NULL};
        vox_event_conversation_uuid(ev, &text);
        /* A conversation handle from its uuid alone (no network): enough to send to it. */
        if (vox_messenger_recreate_conversation(s->messenger, &cc, text, 0, 0, 0, &s->reply_to, NULL) == VOX_OK)
            printf("[%s] replying in conversation %s\n", s->who, text);
        vox_string_free(text);
    }
    pthread_mutex_unlock(&s->mu);
}

static void print_service_event(void *user_data, const vox_event *ev) {
    session *s = user_data;
    int32_t type = 0;
    uint64_t who = 0, seq = 0;
    vox_event_type(ev, &type);
    vox_event_initiator(ev, &who);
    vox_event_sequence(ev, &seq);
    if (type == VOX_EVENT_TYPING) printf("[%s] user %llu is typing…\n", s->who, (unsigned long long)who);
    if (type == VOX_EVENT_READ)
        printf("[%s] user %llu read up to #%llu\n", s->who, (unsigned long long)who, (unsigned long long)seq);
    if (type == VOX_EVENT_CREATE_CONVERSATION) {
        char *uuid = NULL;
        vox_event_conversation_uuid(ev, &uuid);
        printf("[%s] added to conversation %s by user %llu\n", s->who, uuid, (unsigned long long)who);
        vox_string_free(uuid);
    }
    fflush(stdout);
}

static void on_client_event(void *user_data, const vox_client_event *e) {
    session *s = user_data;
    if (e->kind == VOX_CLIENT_EVENT_RECONNECTING) printf("[%s] connection lost, reconnecting…\n", s->who);
    if (e->kind == VOX_CLIENT_EVENT_RECONNECTED) printf("[%s] reconnected\n", s->who);
    if (e->kind == VOX_CLIENT_EVENT_CONNECTION_CLOSED) printf("[%s] connection closed: %s\n", s->who, e->reason);
    fflush(stdout);
}

static void listen_all(vox_client *c, vox_messenger *m, session *s) {
    vox_listener msg = {print_message_event, s, NULL};
    vox_listener svc = {print_service_event, s, NULL};
    vox_client_listener cl = {on_client_event, s, NULL};
    /* One listener per group of event types: the mask has bit 1 << VOX_EVENT_x per type. */
    vox_messenger_on(m, (1 << VOX_EVENT_SEND_MESSAGE) | (1 << VOX_EVENT_EDIT_MESSAGE), msg, NULL);
    vox_messenger_on(m, (1 << VOX_EVENT_TYPING) | (1 << VOX_EVENT_READ) | (1 << VOX_EVENT_CREATE_CONVERSATION),
                     svc, NULL);
    vox_client_on_event(c, cl, NULL);
}

static vox_client *connect_and_login(const char *server, const char *user, const char *password) {
    vox_client_config *cfg = NULL;
    vox_client *c = NULL;
    vox_error *err = NULL;
    if (vox_client_config_new(server, &cfg) != VOX_OK) {
        fprintf(stderr, "bad server address\n");
        exit(1);
    }
    if (vox_client_new(cfg, &c, &err) != VOX_OK) {
        char *m = vox_error_message(err);
        fprintf(stderr, "client: %s\n", m);
        vox_string_free(m);
        vox_error_free(err);
        exit(1);
    }
    vox_client_config_free(cfg);
    CALL("connect", vox_client_connect(c, K, NULL, NULL));
    vox_event *r = CALL("login", vox_client_login(c, user, password, VOX_DIGEST_MD5, NULL, K, NULL, NULL));
    char *name = NULL;
    vox_event_display_name(r, &name);
    printf("logged in as %s (%s)\n", user, name);
    vox_string_free(name);
    vox_event_free(r);
    return c;
}

static uint64_t user_id(vox_messenger *m, const char *name) {
    vox_event *r = CALL("get_user_by_name", vox_messenger_get_user_by_name(m, name, K, NULL, NULL));
    vox_user *u = NULL;
    uint64_t id = 0;
    vox_event_user(r, &u);
    vox_user_im_id(u, &id);
    vox_user_free(u);
    vox_event_free(r);
    return id;
}

static vox_conversation *open_conversation(vox_messenger *m, uint64_t peer, const char *title) {
    vox_participant p = {0};
    p.im_user_id = peer;
    vox_conversation_config cc = {&p, 1, title, false, false, false, NULL};
    vox_event *r = CALL("create_conversation", vox_messenger_create_conversation(m, &cc, K, NULL, NULL));
    vox_conversation *conv = NULL;
    vox_event_conversation(r, &conv);
    vox_event_free(r);
    return conv;
}

static void send_text(vox_conversation *conv, const char *text) {
    vox_event *r = CALL("send_message", vox_conversation_send_message(conv, text, NULL, K, NULL, NULL));
    vox_event_free(r);
}

/* ---- demo: two users in one process ------------------------------------------------------- */

static int demo(const char *server) {
    session sa = {"user1", PTHREAD_MUTEX_INITIALIZER, NULL, NULL}, sb = {"user2", PTHREAD_MUTEX_INITIALIZER, NULL, NULL};
    vox_client *a = connect_and_login(server, "user1@app.acc.voximplant.com", "secret");
    vox_client *b = connect_and_login(server, "user2@app.acc.voximplant.com", "secret");
    vox_messenger *ma = NULL, *mb = NULL;
    vox_client_messenger(a, &ma);
    vox_client_messenger(b, &mb);
    listen_all(a, ma, &sa);
    listen_all(b, mb, &sb);

    vox_conversation *conv = open_conversation(ma, user_id(ma, "user2@app.acc"), "C console chat");
    send_text(conv, "Hello from C!");
    vox_event_free(CALL("typing", vox_conversation_typing(conv, K, NULL, NULL)));
    send_text(conv, "This message went through the C ABI.");

    /* user2 answers in the same conversation (looked up by uuid) and marks it read. */
    char *uuid = NULL;
    vox_conversation_uuid(conv, &uuid);
    vox_event *r = CALL("get_conversation", vox_messenger_get_conversation(mb, uuid, K, NULL, NULL));
    vox_conversation *conv_b = NULL;
    uint64_t last = 0;
    vox_event_conversation(r, &conv_b);
    vox_event_free(r);
    vox_conversation_last_sequence(conv_b, &last);
    vox_event_free(CALL("mark_as_read", vox_conversation_mark_as_read(conv_b, last, K, NULL, NULL)));
    send_text(conv_b, "Hi user1, loud and clear.");

    vox_event_free(CALL("disconnect", vox_client_disconnect(a, K, NULL, NULL)));
    vox_event_free(CALL("disconnect", vox_client_disconnect(b, K, NULL, NULL)));
    vox_string_free(uuid);
    vox_conversation_free(conv);
    vox_conversation_free(conv_b);
    vox_messenger_free(ma);
    vox_messenger_free(mb);
    vox_client_free(a);
    vox_client_free(b);
    printf("demo done\n");
    return 0;
}

/* ---- interactive -------------------------------------------------------------------------- */

static int chat(const char *server, const char *user, const char *password, const char *peer) {
    session s = {"in", PTHREAD_MUTEX_INITIALIZER, NULL, NULL};
    vox_client *c = connect_and_login(server, user, password);
    vox_messenger *m = NULL;
    vox_client_messenger(c, &m);
    if (peer) {
        s.reply_to = open_conversation(m, user_id(m, peer), "C console chat");
    } else {
        s.messenger = m;
    }
    listen_all(c, m, &s);
    if (peer) {
        printf("conversation with %s open; type a line to send it\n", peer);
    } else {
        printf("waiting for a message; type a line to answer\n");
    }
    char line[4096];
    while (fgets(line, sizeof line, stdin)) {
        line[strcspn(line, "\n")] = 0;
        if (strcmp(line, "/quit") == 0) break;
        if (!*line) continue;
        pthread_mutex_lock(&s.mu);
        vox_conversation *conv = s.reply_to;
        pthread_mutex_unlock(&s.mu);
        if (!conv) {
            printf("(no conversation yet)\n");
            continue;
        }
        send_text(conv, line);
    }
    vox_event_free(CALL("disconnect", vox_client_disconnect(c, K, NULL, NULL)));
    pthread_mutex_lock(&s.mu);
    if (s.reply_to) vox_conversation_free(s.reply_to);
    s.reply_to = NULL;
    pthread_mutex_unlock(&s.mu);
    vox_messenger_free(m);
    vox_client_free(c);
    return 0;
}

int main(int argc, char **argv) {
    if (argc >= 3 && strcmp(argv[1], "demo") == 0) return demo(argv[2]);
    if (argc >= 5 && strcmp(argv[1], "chat") == 0) return chat(argv[2], argv[3], argv[4], argc > 5 ? argv[5] : NULL);
    fprintf(stderr,
            "usage: %s demo ws://HOST:PORT\n"
            "       %s chat ws://HOST:PORT USER PASSWORD [PEER]\n",
            argv[0], argv[0]);
    return 2;
}
