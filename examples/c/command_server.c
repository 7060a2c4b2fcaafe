/* Seed 000's command server from C, with one extra command registered from C.
 *
 * The engine's built-in `command` service answers date, os, ls [PATH], help and quit; this
 * program adds `hello NAME` -> `Hello, NAME! (request N)`, a C callback with userdata (a
 * greeting and a request counter) and a free function that releases it. The callback runs on
 * the engine's worker threads, several at once, so the counter is atomic.
 *
 * Build:  cc command_server.c $(pkg-config --cflags --libs netcore) -o command_server
 * Run:    ./command_server [--port N] [--framing line|message] [--root DIR]
 *         (port 21560 by default, 0 for a free one; prints `listening on ADDRESS`)
 * Try:    netcore send 127.0.0.1 21560 date 'hello world'
 * Stop:   Ctrl+C or SIGTERM: the replies in flight are sent, then it exits 0. */
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netcore.h>

struct hello_data {
    const char *greeting;
    atomic_ulong requests;
};

/* `hello NAME`: runs on an engine worker thread; must be thread-safe. */
static int hello(void *userdata, const netcore_request *req, netcore_reply *reply) {
    struct hello_data *data = userdata;
    unsigned long n = atomic_fetch_add(&data->requests, 1) + 1;
    if (req->args_len == 0) {
        netcore_reply_error(reply, "usage: hello NAME"); /* sent as `error: usage: hello NAME` */
        return 0;
    }
    char text[512];
    int len = snprintf(text, sizeof text, "%s, %.*s! (request %lu)", data->greeting,
                       (int)(req->args_len > 400 ? 400 : req->args_len), (const char *)req->args, n);
    netcore_reply_write(reply, (const uint8_t *)text, (size_t)len);
    return 0;
}

/* "1 connection", "2 connections": the suffix for a count. */
static const char *plural(unsigned long long n) { return n == 1 ? "" : "s"; }

/* Called once by netcore when no configuration or server uses the command any more. */
static void free_hello(void *userdata) { free(userdata); }

static int fail(const char *what) {
    char msg[512];
    netcore_last_error_message(msg, sizeof msg, NULL);
    fprintf(stderr, "command_server: %s: %s\n", what, msg);
    return 1;
}

static int usage(const char *problem) {
    fprintf(stderr, "command_server: %s\nusage: command_server [--port N] [--framing line|message] [--root DIR]\n",
            problem);
    return 2;
}

int main(int argc, char **argv) {
    long port = 21560;
    const char *framing = "line", *root = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0) {
            puts("usage: command_server [--port N] [--framing line|message] [--root DIR]");
            return 0;
        }
        if (strcmp(argv[i], "--port") && strcmp(argv[i], "--framing") && strcmp(argv[i], "--root")) {
            fprintf(stderr, "command_server: unknown option %s\n", argv[i]);
            return 2;
        }
        if (i + 1 >= argc) return usage("an option is missing its value");
        char *end;
        if (strcmp(argv[i], "--port") == 0) {
            errno = 0;
            port = strtol(argv[++i], &end, 10);
            if (errno || *end || end == argv[i] || port < 0 || port > 65535) return usage("--port takes 0-65535");
        } else if (strcmp(argv[i], "--framing") == 0) {
            framing = argv[++i];
        } else {
            root = argv[++i];
        }
    }

    /* Block Ctrl+C and SIGTERM before the engine starts its threads (they inherit the mask),
     * so only sigwait below receives them. */
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);

    netcore_server_config *cfg;
    if (netcore_server_config_new("command", &cfg) != NETCORE_STATUS_OK) return fail("config");
    char listen[32];
    snprintf(listen, sizeof listen, "127.0.0.1:%ld", port);
    struct hello_data *data = malloc(sizeof *data);
    if (!data) return 1;
    data->greeting = "Hello";
    atomic_init(&data->requests, 0);
    if (netcore_server_config_listen_tcp(cfg, listen) != NETCORE_STATUS_OK ||
        netcore_server_config_set_framing(cfg, framing) != NETCORE_STATUS_OK ||
        (root && netcore_server_config_set_root(cfg, root) != NETCORE_STATUS_OK)) {
        free(data);
        netcore_server_config_free(cfg);
        return fail("configuration");
    }
    /* From here the configuration owns `data`: free_hello releases it. */
    if (netcore_server_config_add_command(cfg, "hello", hello, data, free_hello) != NETCORE_STATUS_OK) {
        free(data); /* on failure nothing is kept and free_hello is not called */
        netcore_server_config_free(cfg);
        return fail("add_command");
    }

    netcore_server *srv;
    netcore_status status = netcore_server_start(cfg, &srv);
    netcore_server_config_free(cfg); /* the server keeps its own copy (and shares `data`) */
    if (status != NETCORE_STATUS_OK) return fail("start");

    char *address;
    if (netcore_server_address(srv, 0, &address) == NETCORE_STATUS_OK) {
        printf("listening on %s (%s framing)\n", address, framing);
        netcore_string_free(address);
    }
    fflush(stdout);

    int sig = 0;
    sigwait(&stop_signals, &sig);
    netcore_server_stop(srv, 5000);
    netcore_server_stats stats;
    if (netcore_server_get_stats(srv, &stats) == NETCORE_STATUS_OK)
        printf("stopped by signal %d after %llu connection%s, %llu request%s\n", sig,
               (unsigned long long)stats.connections_total, plural(stats.connections_total),
               (unsigned long long)stats.requests, plural(stats.requests));
    netcore_server_free(srv); /* last user of the hello command: free_hello runs here */
    return 0;
}
