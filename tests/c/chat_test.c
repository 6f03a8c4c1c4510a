/*
 * chat_test.c — the C ABI from C: two users log in to a real vox-messenger-server, chat, and
 * receive each other's events; error paths (NULL, UTF-8, JSON, stale handles), cancel, free with
 * a request in flight. Ends with every handle freed (vox_debug_live_handles() == 0) and every
 * user_data released; run under valgrind by tests/c/run.sh.
 *
 * Usage: chat_test ws://127.0.0.1:PORT
 */
#include "vox_messenger.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int failures = 0;

#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (!(cond)) {                                                               \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
            failures++;                                                              \
            exit(1);                                                                 \
        }                                                                            \
    } while (0)

#define OK(expr) CHECK((expr) == VOX_OK)

/* ---- synchronisation: completions and listeners run on the library's callback thread ---- */

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int releases = 0; /* user_data released (completions and listeners) */

static void wait_until(int (*pred)(void *), void *arg) {
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 15;
    pthread_mutex_lock(&mu);
    while (!pred(arg)) {
        if (pthread_cond_timedwait(&cv, &mu, &deadline) == ETIMEDOUT) {
            pthread_mutex_unlock(&mu);
            fprintf(stderr, "timed out waiting\n");
            exit(1);
        }
    }
    pthread_mutex_unlock(&mu);
}

typedef struct {
    int done;
    int status;
    int32_t code;
    int on_callback_thread;
    vox_event *result; /* an owned copy */
} waiter;

static void on_done(void *user_data, int32_t status, const vox_error *error, const vox_event *result) {
    waiter *w = (waiter *)user_data;
    vox_event *copy = NULL;
    if (result) CHECK(vox_event_clone(result, &copy) == VOX_OK);
    pthread_mutex_lock(&mu);
    w->done++;
    w->status = status;
    w->code = error ? vox_error_code(error) : 0;
    w->on_callback_thread = vox_is_callback_thread();
    w->result = copy;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
}

static void on_release(void *user_data) {
    (void)user_data;
    pthread_mutex_lock(&mu);
    releases++;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
}

static int is_done(void *arg) { return ((waiter *)arg)->done > 0; }

static int released(void *arg) { return releases >= *(int *)arg; }

static vox_completion completion_for(waiter *w) {
    memset(w, 0, sizeof *w);
    vox_completion c = {on_done, w, on_release};
    return c;
}

/* Wait for a completion; it must have run exactly once. Returns its status. */
static int wait_op(waiter *w) {
    wait_until(is_done, w);
    CHECK(w->done == 1);
    CHECK(w->on_callback_thread); /* completions run on the library's callback thread */
    return w->status;
}

/* ---- listeners: a small queue of owned event copies ---- */

#define QMAX 64
typedef struct {
    vox_event *items[QMAX];
    int head, tail;
} queue;

static void on_event(void *user_data, const vox_event *ev) {
    queue *q = (queue *)user_data;
    vox_event *copy = NULL;
    CHECK(vox_event_clone(ev, &copy) == VOX_OK);
    pthread_mutex_lock(&mu);
    CHECK(q->tail - q->head < QMAX);
    q->items[q->tail++ % QMAX] = copy;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
}

static int has_event(void *arg) {
    queue *q = (queue *)arg;
    return q->tail > q->head;
}

static vox_event *next_event(queue *q) {
    wait_until(has_event, q);
    pthread_mutex_lock(&mu);
    vox_event *e = q->items[q->head++ % QMAX];
    pthread_mutex_unlock(&mu);
    return e;
}

static void drain(queue *q) {
    pthread_mutex_lock(&mu);
    while (q->tail > q->head) vox_event_free(q->items[q->head++ % QMAX]);
    pthread_mutex_unlock(&mu);
}

/* Listen to the event types of `mask` (bit 1 << VOX_EVENT_x per type). */
static void listen_to(vox_messenger *m, int32_t mask, queue *q) {
    vox_listener l = {on_event, q, on_release};
    vox_listener_id id = 0;
    OK(vox_messenger_on(m, mask, l, &id));
    CHECK(id != 0);
}

/* Whether a queue holds an event of `type` (without taking it). */
static int queue_has_type(queue *q, int32_t type) {
    int found = 0;
    pthread_mutex_lock(&mu);
    for (int i = q->head; i < q->tail; i++) {
        int32_t t = -1;
        if (vox_event_type(q->items[i % QMAX], &t) == VOX_OK && t == type) found = 1;
    }
    pthread_mutex_unlock(&mu);
    return found;
}

/* ---- helpers ---- */

static void on_log(void *user_data, int32_t level, const char *target, const char *message) {
    (void)user_data;
    fprintf(stderr, "[vox %d] %s: %s\n", level, target, message);
}

static int expected_releases = 0;

static int run(vox_completion c, int32_t status) {
    (void)c;
    if (status == VOX_OK) expected_releases++;
    return status;
}

static char *text_of_event(const vox_event *ev) {
    vox_message *m = NULL;
    char *text = NULL;
    OK(vox_event_message(ev, &m));
    OK(vox_message_text(m, &text));
    OK(vox_message_free(m));
    return text;
}

static vox_client *login(const char *server, const char *user, int32_t digest) {
    vox_client_config *cfg = NULL;
    vox_client *c = NULL;
    vox_error *err = NULL;
    waiter w;
    vox_completion k;
    OK(vox_client_config_new(server, &cfg));
    OK(vox_client_config_set_request_spacing(cfg, 0));
    OK(vox_client_new(cfg, &c, &err));
    CHECK(err == NULL);
    OK(vox_client_config_free(cfg));

    k = completion_for(&w);
    OK(run(k, vox_client_connect(c, k, NULL, NULL)));
    CHECK(wait_op(&w) == VOX_OK);
    CHECK(w.result == NULL);

    k = completion_for(&w);
    OK(run(k, vox_client_login(c, user, "secret", digest, NULL, k, NULL, NULL)));
    CHECK(wait_op(&w) == VOX_OK);
    int32_t type = 0;
    OK(vox_event_type(w.result, &type));
    CHECK(type == VOX_EVENT_LOGIN);
    char *name = NULL;
    OK(vox_event_display_name(w.result, &name));
    printf("%s logged in as \"%s\"\n", user, name);
    vox_string_free(name);
    OK(vox_event_free(w.result));
    int32_t state = -1;
    OK(vox_client_state(c, &state));
    CHECK(state == VOX_STATE_LOGGED_IN);
    return c;
}

static uint64_t im_id_of(vox_messenger *m, const char *name) {
    waiter w;
    vox_completion k = completion_for(&w);
    vox_user *u = NULL;
    uint64_t id = 0;
    OK(run(k, vox_messenger_get_user_by_name(m, name, k, NULL, NULL)));
    CHECK(wait_op(&w) == VOX_OK);
    OK(vox_event_user(w.result, &u));
    OK(vox_user_im_id(u, &id));
    char *display = NULL;
    OK(vox_user_display_name(u, &display));
    printf("%s is \"%s\" (IM id %llu)\n", name, display, (unsigned long long)id);
    vox_string_free(display);
    OK(vox_user_free(u));
    OK(vox_event_free(w.result));
    return id;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s ws://host:port\n", argv[0]);
        return 2;
    }
    const char *server = argv[1];
    waiter w;
    vox_completion k;
    vox_error *err = NULL;

    CHECK(vox_abi_version() == VOX_ABI_VERSION);
    printf("vox-messenger %s, ABI %d\n", vox_version(), vox_abi_version());
    CHECK(!vox_is_callback_thread());
    /* The log callback's user_data is released exactly once, when it is replaced. */
    OK(vox_set_log_callback(VOX_LOG_WARN, on_log, NULL, on_release));
    OK(vox_set_log_callback(VOX_LOG_WARN, on_log, NULL, on_release));
    expected_releases += 1;

    vox_client *a = login(server, "user1@app.acc.voximplant.com", VOX_DIGEST_MD5);
    vox_client *b = login(server, "user2@app.acc.voximplant.com", VOX_DIGEST_SHA256);
    vox_messenger *ma = NULL, *mb = NULL;
    OK(vox_client_messenger(a, &ma));
    OK(vox_client_messenger(b, &mb));
    vox_user *me = NULL;
    char *me_name = NULL;
    uint64_t me_id = 0;
    OK(vox_messenger_get_me(ma, &me)); /* the whole user, without a network call */
    OK(vox_user_name(me, &me_name));
    CHECK(strcmp(me_name, "user1@app.acc") == 0);
    OK(vox_user_im_id(me, &me_id));
    vox_string_free(me_name);
    OK(vox_user_free(me));
    uint64_t id_a = im_id_of(mb, "user1@app.acc");
    uint64_t id_b = im_id_of(ma, "user2@app.acc");
    CHECK(me_id == id_a);
    /* A messenger's client is the (borrowed) handle vox_client_new gave. */
    vox_client *borrowed = NULL;
    OK(vox_messenger_client(ma, &borrowed));
    CHECK(borrowed == a);

    static queue b_created, b_sent, b_typing, a_sent, a_read;
    static queue a_both; /* one listener for two event types */
    listen_to(mb, 1 << VOX_EVENT_CREATE_CONVERSATION, &b_created);
    listen_to(mb, 1 << VOX_EVENT_SEND_MESSAGE, &b_sent);
    listen_to(mb, 1 << VOX_EVENT_TYPING, &b_typing);
    listen_to(ma, 1 << VOX_EVENT_SEND_MESSAGE, &a_sent);
    listen_to(ma, 1 << VOX_EVENT_READ, &a_read);
    listen_to(ma, (1 << VOX_EVENT_SEND_MESSAGE) | (1 << VOX_EVENT_READ), &a_both);
    expected_releases += 6;

    /* A creates a conversation with B. */
    vox_participant p = {0};
    p.im_user_id = id_b;
    p.can_write = true;
    vox_conversation_config cc = {&p, 1, "C test", false, false, false, "{\"from\":\"C\"}"};
    k = completion_for(&w);
    OK(run(k, vox_messenger_create_conversation(ma, &cc, k, NULL, NULL)));
    CHECK(wait_op(&w) == VOX_OK);
    vox_conversation *conv_a = NULL;
    OK(vox_event_conversation(w.result, &conv_a));
    OK(vox_event_free(w.result));
    char *uuid = NULL;
    OK(vox_conversation_uuid(conv_a, &uuid));
    printf("conversation %s created\n", uuid);

    /* B is told, and gets its own conversation handle from the event. */
    vox_event *ev = next_event(&b_created);
    vox_conversation *conv_b = NULL;
    OK(vox_event_conversation(ev, &conv_b));
    char *uuid_b = NULL;
    OK(vox_conversation_uuid(conv_b, &uuid_b));
    CHECK(strcmp(uuid, uuid_b) == 0);
    vox_string_free(uuid_b);
    uint64_t initiator = 0;
    OK(vox_event_initiator(ev, &initiator));
    CHECK(initiator == id_a);
    OK(vox_event_free(ev));

    /* A → B, with a payload. */
    k = completion_for(&w);
    OK(run(k, vox_conversation_send_message(conv_a, "Hello, B! \xc3\xa9", "[{\"type\":\"greeting\"}]", k, NULL, NULL)));
    CHECK(wait_op(&w) == VOX_OK);
    OK(vox_event_free(w.result));
    ev = next_event(&b_sent);
    char *text = text_of_event(ev);
    printf("B received: %s\n", text);
    CHECK(strcmp(text, "Hello, B! \xc3\xa9") == 0);
    vox_string_free(text);
    vox_message *msg = NULL;
    OK(vox_event_message(ev, &msg));
    uint64_t sender = 0;
    OK(vox_message_sender(msg, &sender));
    CHECK(sender == id_a);
    char *payload = NULL;
    OK(vox_message_payload(msg, &payload));
    CHECK(strcmp(payload, "[{\"type\":\"greeting\"}]") == 0);
    vox_string_free(payload);
    OK(vox_message_free(msg));
    OK(vox_event_free(ev));

    /* B → A. */
    k = completion_for(&w);
    OK(run(k, vox_conversation_send_message(conv_b, "Hi, A", NULL, k, NULL, NULL)));
    CHECK(wait_op(&w) == VOX_OK);
    uint64_t reply_seq = 0;
    OK(vox_event_sequence(w.result, &reply_seq));
    OK(vox_event_free(w.result));
    for (;;) { /* A also hears its own message first */
        ev = next_event(&a_sent);
        text = text_of_event(ev);
        int mine = strcmp(text, "Hi, A") != 0;
        if (!mine) printf("A received: %s\n", text);
        vox_string_free(text);
        OK(vox_event_free(ev));
        if (!mine) break;
    }

    /* B marks the reply read; A sees the read mark. A types; B sees it. */
    k = completion_for(&w);
    OK(run(k, vox_conversation_mark_as_read(conv_b, reply_seq, k, NULL, NULL)));
    CHECK(wait_op(&w) == VOX_OK);
    OK(vox_event_free(w.result));
    ev = next_event(&a_read);
    uint64_t seq = 0;
    OK(vox_event_sequence(ev, &seq));
    CHECK(seq == reply_seq);
    OK(vox_event_free(ev));
    k = completion_for(&w);
    OK(run(k, vox_conversation_typing(conv_a, k, NULL, NULL)));
    CHECK(wait_op(&w) == VOX_OK);
    OK(vox_event_free(w.result));
    ev = next_event(&b_typing);
    char *typing_uuid = NULL;
    OK(vox_event_conversation_uuid(ev, &typing_uuid));
    CHECK(strcmp(typing_uuid, uuid) == 0);
    vox_string_free(typing_uuid);
    OK(vox_event_free(ev));
    printf("read marks and typing delivered\n");

    /* Error paths: never a crash. */
    CHECK(vox_client_state(NULL, NULL) == VOX_ERR_NULL_ARGUMENT);
    k = completion_for(&w);
    CHECK(vox_conversation_send_message(conv_a, "\xff\xfe", NULL, k, NULL, &err) == VOX_ERR_INVALID_UTF8);
    CHECK(vox_error_status(err) == VOX_ERR_INVALID_UTF8);
    OK(vox_error_free(err));
    CHECK(vox_error_free(err) == VOX_ERR_INVALID_HANDLE); /* double free */
    CHECK(vox_conversation_send_message(conv_a, "x", "{not json", k, NULL, &err) == VOX_ERR_INVALID_JSON);
    char *msgtext = vox_error_message(err);
    printf("invalid JSON rejected: %s\n", msgtext);
    vox_string_free(msgtext);
    OK(vox_error_free(err));
    vox_conversation *stale = NULL;
    OK(vox_conversation_clone(conv_a, &stale));
    OK(vox_conversation_free(stale));
    CHECK(vox_conversation_free(stale) == VOX_ERR_INVALID_HANDLE);
    CHECK(vox_conversation_typing(stale, k, NULL, NULL) == VOX_ERR_INVALID_HANDLE);
    CHECK(vox_client_free((vox_client *)conv_a) == VOX_ERR_WRONG_HANDLE_TYPE);
    CHECK(w.done == 0); /* rejected calls never complete */

    /* A server error keeps the protocol's number. */
    k = completion_for(&w);
    OK(run(k, vox_messenger_get_conversation(ma, "00000000-0000-4000-8000-000000000000", k, NULL, NULL)));
    CHECK(wait_op(&w) == VOX_ERR_MESSENGER);
    printf("unknown conversation: messenger error %d\n", w.code);
    CHECK(w.code > 0 && w.code < 10000);

    /* Cancel: the completion still runs exactly once (OK or CANCELLED). */
    vox_op_id op = 0;
    k = completion_for(&w);
    OK(run(k, vox_messenger_get_user_by_im_id(ma, id_b, k, &op, NULL)));
    {
        /* The conversation knows its client (borrowed handle): cancel through it. */
        vox_client *owner = NULL;
        OK(vox_conversation_client(conv_a, &owner));
        CHECK(owner == a);
        OK(vox_cancel(owner, op));
        OK(vox_cancel(owner, op));
    }
    int st = wait_op(&w);
    CHECK(st == VOX_OK || st == VOX_ERR_CANCELLED);
    if (w.result) OK(vox_event_free(w.result));
    printf("cancelled op completed with %d\n", st);

    /* Retransmit the history. */
    k = completion_for(&w);
    OK(run(k, vox_conversation_retransmit_events(conv_a, 1, reply_seq, k, NULL, NULL)));
    CHECK(wait_op(&w) == VOX_OK);
    size_t items = 0;
    OK(vox_event_item_count(w.result, &items));
    CHECK(items >= 2);
    OK(vox_event_free(w.result));

    /* Shutdown: A disconnects; B is freed with a request in flight. */
    k = completion_for(&w);
    OK(run(k, vox_client_disconnect(a, k, NULL, NULL)));
    CHECK(wait_op(&w) == VOX_OK);
    waiter inflight;
    k = completion_for(&inflight);
    OK(run(k, vox_messenger_get_user_by_im_id(mb, id_a, k, NULL, NULL)));
    OK(vox_client_free(b));
    st = wait_op(&inflight);
    CHECK(st == VOX_OK || st == VOX_ERR_CONNECTION_CLOSED);
    if (inflight.result) OK(vox_event_free(inflight.result));

    vox_string_free(uuid);
    OK(vox_conversation_free(conv_a));
    OK(vox_conversation_free(conv_b));
    OK(vox_messenger_free(ma));
    OK(vox_messenger_free(mb));
    OK(vox_client_free(a));
    CHECK(vox_client_free(a) == VOX_ERR_INVALID_HANDLE);
    drain(&b_created);
    drain(&b_sent);
    drain(&b_typing);
    drain(&a_sent);
    drain(&a_read);
    CHECK(queue_has_type(&a_both, VOX_EVENT_SEND_MESSAGE));
    CHECK(queue_has_type(&a_both, VOX_EVENT_READ));
    drain(&a_both);

    /* Every completion's and listener's user_data comes back exactly once. */
    int want = expected_releases;
    wait_until(released, &want);
    CHECK(releases == expected_releases);
    drain(&b_sent); /* nothing arrives after the release */
    OK(vox_set_log_callback(VOX_LOG_OFF, NULL, NULL, NULL)); /* releases the last log callback */
    want = expected_releases + 1;
    wait_until(released, &want);
    CHECK(releases == expected_releases + 1);
    CHECK(vox_debug_live_handles() == 0);
    printf("C chat test: OK (%d completions and listeners released, 0 live handles)\n", releases);
    return failures ? 1 : 0;
}
