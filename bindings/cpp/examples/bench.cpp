// bench.cpp — local get_me calls and get_user round trips through the C++ wrapper, and the
// same through the raw C ABI (one run, one client). Not a test. scripts/bench-bindings.sh runs
// it next to the Rust, C (bindings/kotlin/bench/ffi_baseline.c) and Kotlin figures and reads its
// `BENCH C++` line.
//   vox_bench ws://127.0.0.1:PORT [local_calls=10000] [round_trips=1000]
//
// The local call is get_me: the whole current user (vox_user*) and its name — through C, one
// vox_messenger_get_me + vox_user_name + two frees; through C++, Messenger::get_me(), which
// copies every field of the user into a vox::User.
#include <vox/vox.hpp>

#include <chrono>
#include <cstdio>
#include <condition_variable>
#include <cstdlib>
#include <mutex>

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: %s ws://HOST:PORT [local_calls] [round_trips]\n", argv[0]);
        return 2;
    }
    int local = argc > 2 ? std::atoi(argv[2]) : 10000, trips = argc > 3 ? std::atoi(argv[3]) : 1000;
    using clock = std::chrono::steady_clock;
    vox::ClientConfig cfg(argv[1]);
    cfg.request_spacing(std::chrono::milliseconds(0));
    vox::Client client(cfg);
    client.connect().get();
    client.login("user1@app.acc.voximplant.com", "secret").get();
    vox::Messenger m = client.messenger();
    vox::User u = m.get_user_by_name("user2@app.acc").get();
    // Warm-up, as the other bench programs do.
    size_t n = 0;
    for (int i = 0; i < 2000; i++) n += m.get_me()->name.size();
    for (int i = 0; i < 50; i++) n += m.get_user_by_im_id(u.im_id).get().name.size();

    auto t0 = clock::now();
    for (int i = 0; i < local; i++) n += m.get_me()->name.size();
    auto t1 = clock::now();
    for (int i = 0; i < trips; i++) n += m.get_user_by_im_id(u.im_id).get().name.size();
    auto t2 = clock::now();
    // The same through the raw C ABI, for the wrapper's overhead.
    const vox_messenger* raw = m.native();
    auto t3 = clock::now();
    for (int i = 0; i < local; i++) {
        vox_user* me = nullptr;
        char* s = nullptr;
        vox_messenger_get_me(raw, &me);
        vox_user_name(me, &s);
        n += vox_string_len(s);
        vox_string_free(s);
        vox_user_free(me);
    }
    auto t4 = clock::now();
    struct Wait {
        std::mutex mu;
        std::condition_variable cv;
        bool done = false;
    };
    for (int i = 0; i < trips; i++) {
        Wait w;
        vox_completion k{[](void* ud, int32_t, const vox_error*, const vox_event* ev) {
                             vox_user* u = nullptr;
                             if (ev && vox_event_user(ev, &u) == VOX_OK) vox_user_free(u);
                             auto* w = static_cast<Wait*>(ud);
                             std::lock_guard<std::mutex> g(w->mu);
                             w->done = true;
                             w->cv.notify_one();
                         },
                         &w, nullptr};
        vox_messenger_get_user_by_im_id(raw, u.im_id, k, nullptr, nullptr);
        std::unique_lock<std::mutex> g(w.mu);
        w.cv.wait(g, [&] { return w.done; });
    }
    auto t5 = clock::now();
    auto us = [](auto d) { return std::chrono::duration<double, std::micro>(d).count(); };
    std::printf("C:   %d get_me calls: %.1f ms (%.2f us/call)\n", local, us(t4 - t3) / 1000, us(t4 - t3) / local);
    std::printf("C:   %d get_user round trips: %.1f ms (%.1f us/trip)\n", trips, us(t5 - t4) / 1000,
                us(t5 - t4) / trips);
    std::printf("C++: %d get_me calls: %.1f ms (%.2f us/call)\n", local, us(t1 - t0) / 1000, us(t1 - t0) / local);
    std::printf("C++: %d get_user round trips: %.1f ms (%.1f us/trip)\n", trips, us(t2 - t1) / 1000,
                us(t2 - t1) / trips);
    // Machine-readable: BENCH <binding> <local calls> <local total us> <trips> <trips total us>
    std::printf("BENCH C++ %d %.1f %d %.1f\n", local, us(t1 - t0), trips, us(t2 - t1));
    client.disconnect().get();
    return n ? 0 : 1;
}
