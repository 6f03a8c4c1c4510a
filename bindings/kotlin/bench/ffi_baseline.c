/*
 * ffi_baseline.c — the C ABI called directly from C, timed the same way as KotlinBench.kt does it
 * through the Kotlin binding: LOCAL (10 000) vox_messenger_get_me (the whole user: + its name,
 * + the frees), 10 000 vox_client_state, TRIPS (1 000) sequential get_user_by_im_id round trips,
 * after a warm-up. The binding's overhead is the difference. It is the "C" row of
 * scripts/bench-bindings.sh (which reads its `BENCH C …` line).
 *
 *   gcc -O2 -std=c11 -D_POSIX_C_SOURCE=200809L -I../../../include ffi_baseline.c \
 *       -L$T/release -lvox_messenger -Wl,-rpath,$T/release -lpthread -o /tmp/ffi_baseline
 *   /tmp/ffi_baseline ws://127.0.0.1:PORT [LOCAL] [TRIPS]
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
    int local_n = argc > 2 ? atoi(argv[2]) : 10000, trips = argc > 3 ? atoi(argv[3]) : 1000;
    size_t n = 0;
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

    double t = 0;
    double local = 0;
    for (int round = 0; round < 2; round++) { /* round 0: warm-up (2 000 calls) */
        int count = round ? local_n : 2000;
        t = now_ms();
        for (int i = 0; i < count; i++) {
            vox_user *me = NULL;
            char *name = NULL;
            OK(vox_messenger_get_me(m, &me));
            OK(vox_user_name(me, &name));
            n += vox_string_len(name);
            vox_string_free(name);
            vox_user_free(me);
        }
        local = now_ms() - t;
    }
    t = now_ms();
    for (int i = 0; i < 10000; i++) { int32_t st; OK(vox_client_state(c, &st)); }
    double state = now_ms() - t;
    t = now_ms();
    for (int i = 0; i < trips; i++) { OK(vox_messenger_get_user_by_im_id(m, id, K, NULL, NULL)); OK(wait_done()); }
    double rtt = now_ms() - t;
    printf("c/ffi: %d vox_messenger_get_me (whole user) %.1f ms (%.3f us/call); 10000 vox_client_state %.1f ms "
           "(%.3f us/call); %d get_user round trips %.1f ms (%.1f us/trip)\n",
           local_n, local, local * 1000 / local_n, state, state / 10, trips, rtt, rtt * 1000 / trips);
    /* Machine-readable: BENCH <binding> <local calls> <local total us> <trips> <trips total us> */
    printf("BENCH C %d %.1f %d %.1f\n", local_n, local * 1000, trips, rtt * 1000);
    if (!n) return 1;
    vox_messenger_free(m);
    vox_client_free(c);
    return 0;
}
