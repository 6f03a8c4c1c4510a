/*
 * ffi_baseline.c — the C ABI called directly from C, timed the same way as BenchTest.kt does it
 * through the Kotlin binding: 10 000 vox_messenger_get_me (+ vox_string_free), 10 000
 * vox_client_state, 1 000 sequential get_user_by_im_id round trips. The binding's overhead is
 * the difference.
 *
 *   gcc -O2 -std=c11 -D_POSIX_C_SOURCE=200809L -I../../../include ffi_baseline.c \
 *       -L$T/debug -lvox_messenger -Wl,-rpath,$T/debug -lpthread -o /tmp/ffi_baseline
 *   /tmp/ffi_baseline ws://127.0.0.1:PORT
 */
#include "vox_messenger.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int done;
static int32_t last_status;
static uint64_t last_id;

static void on_done(void *ud, int32_t status, const vox_error *err, const vox_event *result) {
    (void)ud; (void)err;
    uint64_t id = 0;
    if (result) {
        vox_user *u = NULL;
        if (vox_event_user(result, &u) == VOX_OK) {
            vox_user_im_id(u, &id);
            vox_user_free(u);
        }
    }
    pthread_mutex_lock(&mu);
    last_status = status;
    last_id = id;
    done = 1;
    pthread_cond_signal(&cv);
    pthread_mutex_unlock(&mu);
}

static int32_t wait_done(void) {
    pthread_mutex_lock(&mu);
    while (!done) pthread_cond_wait(&cv, &mu);
    done = 0;
    int32_t s = last_status;
    pthread_mutex_unlock(&mu);
    return s;
}

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

#define K ((vox_completion){on_done, NULL, NULL})
#define OK(x) do { if ((x) != VOX_OK) { fprintf(stderr, "failed: %s\n", #x); exit(1); } } while (0)

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    vox_client_config *cfg = NULL;
    vox_client *c = NULL;
    vox_messenger *m = NULL;
    OK(vox_client_config_new(argv[1], &cfg));
    OK(vox_client_config_set_request_spacing(cfg, 0));
    OK(vox_client_new(cfg, &c, NULL));
    vox_client_config_free(cfg);
    OK(vox_client_connect(c, K, NULL, NULL));
    OK(wait_done());
    OK(vox_client_login(c, "user1@app.acc.voximplant.com", "secret", VOX_DIGEST_SHA256, NULL, K, NULL, NULL));
    OK(wait_done());
    OK(vox_client_messenger(c, &m));
    OK(vox_messenger_get_user_by_name(m, "user2@app.acc", K, NULL, NULL));
    OK(wait_done());
    uint64_t id = last_id;
    for (int i = 0; i < 50; i++) { OK(vox_messenger_get_user_by_im_id(m, id, K, NULL, NULL)); OK(wait_done()); }

    double t = now_ms();
    for (int i = 0; i < 10000; i++) { char *me = NULL; OK(vox_messenger_get_me(m, &me)); vox_string_free(me); }
    double local = now_ms() - t;
    t = now_ms();
    for (int i = 0; i < 10000; i++) { int32_t st; OK(vox_client_state(c, &st)); }
    double state = now_ms() - t;
    t = now_ms();
    for (int i = 0; i < 1000; i++) { OK(vox_messenger_get_user_by_im_id(m, id, K, NULL, NULL)); OK(wait_done()); }
    double rtt = now_ms() - t;
    printf("BENCH c/ffi: 10000 vox_messenger_get_me %.1f ms (%.2f us/call); 10000 vox_client_state %.1f ms "
           "(%.2f us/call); 1000 get_user round trips %.1f ms (%.1f us/trip)\n",
           local, local / 10, state, state / 10, rtt, rtt);
    vox_messenger_free(m);
    vox_client_free(c);
    return 0;
}
