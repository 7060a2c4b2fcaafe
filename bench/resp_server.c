/* A RESP command server with two user commands written in C, for bench/resp_bench.py:
 * `cping` (the default: on the engine thread) and `cbping` (registered as blocking), both
 * answering `+PONG` as the built-in PING does. Prints nothing; serves until killed.
 *
 *     cc bench/resp_server.c $(pkg-config --cflags --libs netcore) -o resp_server_c
 *     ./resp_server_c 127.0.0.1:7000
 */
#include <netcore.h>
#include <stdbool.h>
#include <stdio.h>

static int pong(void *userdata, const netcore_request *req, netcore_reply *reply) {
    (void)userdata;
    (void)req;
    return netcore_reply_simple(reply, "PONG") == NETCORE_STATUS_OK ? 0 : 1;
}

static int fail(const char *what, netcore_status st) {
    char text[256];
    netcore_last_error_message(text, sizeof text, NULL);
    fprintf(stderr, "resp_server_c: %s: status %u: %s\n", what, (unsigned)st, text);
    return 1;
}

int main(int argc, char **argv) {
    const char *addr = argc > 1 ? argv[1] : "127.0.0.1:0";
    netcore_server_config *cfg = NULL;
    netcore_status st;
    if ((st = netcore_server_config_new("command", &cfg)) != NETCORE_STATUS_OK) return fail("config", st);
    if ((st = netcore_server_config_set_framing(cfg, "resp")) != NETCORE_STATUS_OK) return fail("framing", st);
    if ((st = netcore_server_config_set_max_connections(cfg, 20000)) != NETCORE_STATUS_OK) return fail("max", st);
    if ((st = netcore_server_config_listen_tcp(cfg, addr)) != NETCORE_STATUS_OK) return fail("listen", st);
    if ((st = netcore_server_config_add_command(cfg, "cping", pong, NULL, NULL)) != NETCORE_STATUS_OK)
        return fail("cping", st);
    if ((st = netcore_server_config_add_blocking_command(cfg, "cbping", pong, NULL, NULL)) != NETCORE_STATUS_OK)
        return fail("cbping", st);
    netcore_server *srv = NULL;
    if ((st = netcore_server_start(cfg, &srv)) != NETCORE_STATUS_OK) return fail("start", st);
    netcore_server_config_free(cfg);
    bool stopping = false;
    st = netcore_server_wait(srv, -1, &stopping);
    netcore_server_free(srv);
    return st == NETCORE_STATUS_OK ? 0 : fail("wait", st);
}
