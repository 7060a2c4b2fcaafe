/* RESP framing from C: a command callback reads binary-safe argv (argc, argv, argv_len) and
 * answers typed values (bulk, simple, integer, null, nested arrays, errors); pipelined
 * requests are answered in order; misuse of the typed calls gets clear statuses. Loopback. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include "check.h"

static int tcp_connect(uint16_t port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    struct timeval tv = {20, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
}

/* Sends `len` bytes, then reads until `want` bytes arrived (or EOF); returns how many. */
static size_t exchange(int fd, const char *data, size_t len, char *buf, size_t want) {
    CHECK(send(fd, data, len, MSG_NOSIGNAL) == (ssize_t)len);
    size_t n = 0;
    while (n < want) {
        ssize_t r = recv(fd, buf + n, want - n, 0);
        if (r <= 0) break;
        n += (size_t)r;
    }
    return n;
}

/* `args a b`: its arguments after the name as an array of bulk strings. */
static int cb_args(void *userdata, const netcore_request *req, netcore_reply *reply) {
    (void)userdata;
    if (netcore_reply_array(reply, req->argc - 1) != NETCORE_STATUS_OK) return 1;
    for (size_t i = 1; i < req->argc; i++) {
        if (netcore_reply_bulk(reply, req->argv[i], req->argv_len[i]) != NETCORE_STATUS_OK) return 1;
    }
    return 0;
}

/* `typed`: [argc, null, +OK, [7]]; `typed err`: an error reply with redis's code. */
static int cb_typed(void *userdata, const netcore_request *req, netcore_reply *reply) {
    (void)userdata;
    if (req->argc == 2 && req->argv_len[1] == 3 && memcmp(req->argv[1], "err", 3) == 0) {
        return netcore_reply_error(reply, "WRONGTYPE not a list") == NETCORE_STATUS_OK ? 0 : 1;
    }
    int ok = netcore_reply_array(reply, 4) == NETCORE_STATUS_OK &&
             netcore_reply_integer(reply, (int64_t)req->argc) == NETCORE_STATUS_OK &&
             netcore_reply_null(reply) == NETCORE_STATUS_OK &&
             netcore_reply_simple(reply, "OK") == NETCORE_STATUS_OK &&
             netcore_reply_array(reply, 1) == NETCORE_STATUS_OK &&
             netcore_reply_integer(reply, 7) == NETCORE_STATUS_OK;
    return ok ? 0 : 1;
}

/* `misuse`: every wrong use of the typed calls is refused, then one value is sent. */
static int cb_misuse(void *userdata, const netcore_request *req, netcore_reply *reply) {
    int *passed = userdata;
    (void)req;
    *passed += netcore_reply_bulk(reply, NULL, 3) == NETCORE_STATUS_NULL_ARGUMENT;
    *passed += netcore_reply_simple(reply, NULL) == NETCORE_STATUS_NULL_ARGUMENT;
    *passed += netcore_reply_integer(NULL, 1) == NETCORE_STATUS_NULL_ARGUMENT;
    *passed += netcore_reply_null(reply) == NETCORE_STATUS_OK;
    /* A second top-level value is refused: one reply holds one value. */
    *passed += netcore_reply_integer(reply, 2) == NETCORE_STATUS_INVALID_ARGUMENT;
    return 0;
}

/* `half`: announces two elements, gives one: the client gets an error, not half an array. */
static int cb_half(void *userdata, const netcore_request *req, netcore_reply *reply) {
    (void)userdata;
    (void)req;
    netcore_reply_array(reply, 2);
    netcore_reply_integer(reply, 1);
    return 0;
}

int main(void) {
    netcore_server_config *cfg = NULL;
    int passed = 0; /* misuse checks that went as they should */
    CHECK_OK(netcore_server_config_new("custom", &cfg));
    CHECK_OK(netcore_server_config_set_framing(cfg, "resp"));
    CHECK_OK(netcore_server_config_listen_tcp(cfg, "127.0.0.1:0"));
    CHECK_OK(netcore_server_config_add_command(cfg, "args", cb_args, NULL, NULL));
    CHECK_OK(netcore_server_config_add_command(cfg, "typed", cb_typed, NULL, NULL));
    CHECK_OK(netcore_server_config_add_command(cfg, "misuse", cb_misuse, &passed, NULL));
    CHECK_OK(netcore_server_config_add_command(cfg, "half", cb_half, NULL, NULL));
    netcore_server *srv = NULL;
    CHECK_OK(netcore_server_start(cfg, &srv));
    netcore_server_config_free(cfg);
    uint16_t port = 0;
    netcore_transport t;
    CHECK_OK(netcore_server_port(srv, 0, &port, &t));
    int fd = tcp_connect(port);
    CHECK(fd >= 0);

    /* Binary-safe arguments: a space, CR LF and a NUL inside one argument. */
    static const char args_req[] = "*3\r\n$4\r\nARGS\r\n$5\r\na b\r\n\r\n$1\r\n\0\r\n";
    static const char args_rep[] = "*2\r\n$5\r\na b\r\n\r\n$1\r\n\0\r\n";
    char buf[512];
    size_t n = exchange(fd, args_req, sizeof args_req - 1, buf, sizeof args_rep - 1);
    CHECK(n == sizeof args_rep - 1 && memcmp(buf, args_rep, n) == 0);

    /* Pipelined: typed values, an error reply, a built-in PING and an inline command, in order. */
    static const char pipe_req[] = "*1\r\n$5\r\ntyped\r\n*2\r\n$5\r\ntyped\r\n$3\r\nerr\r\nPING\r\nargs x\r\n";
    static const char pipe_rep[] = "*4\r\n:1\r\n$-1\r\n+OK\r\n*1\r\n:7\r\n"
                                   "-WRONGTYPE not a list\r\n+PONG\r\n*1\r\n$1\r\nx\r\n";
    n = exchange(fd, pipe_req, sizeof pipe_req - 1, buf, sizeof pipe_rep - 1);
    buf[n] = 0;
    CHECK(n == sizeof pipe_rep - 1 && memcmp(buf, pipe_rep, n) == 0);
    if (n != sizeof pipe_rep - 1 || memcmp(buf, pipe_rep, n) != 0) fprintf(stderr, "got: %s\n", buf);

    /* RESP3 after HELLO 3: the callback's null is `_`. */
    static const char hello_req[] = "HELLO 3\r\n";
    n = exchange(fd, hello_req, sizeof hello_req - 1, buf, 1);
    CHECK(n == 1 && buf[0] == '%');
    /* The rest of HELLO's map, then the typed reply: read until the typed reply's end. */
    static const char typed_req[] = "*1\r\n$5\r\ntyped\r\n";
    CHECK(send(fd, typed_req, sizeof typed_req - 1, MSG_NOSIGNAL) == (ssize_t)(sizeof typed_req - 1));
    static const char typed3[] = "*4\r\n:1\r\n_\r\n+OK\r\n*1\r\n:7\r\n";
    size_t got = 0;
    while (got < sizeof buf - 1) {
        ssize_t r = recv(fd, buf + got, sizeof buf - 1 - got, 0);
        if (r <= 0) break;
        got += (size_t)r;
        buf[got] = 0;
        if (got >= sizeof typed3 - 1 && memcmp(buf + got - (sizeof typed3 - 1), typed3, sizeof typed3 - 1) == 0) break;
    }
    CHECK(got >= sizeof typed3 - 1 && memcmp(buf + got - (sizeof typed3 - 1), typed3, sizeof typed3 - 1) == 0);

    /* Misuse: refused calls keep the reply usable; an unfilled array is an error reply. */
    static const char misuse_req[] = "misuse\r\nhalf\r\n";
    static const char misuse_rep[] = "_\r\n-ERR the command's reply array is incomplete (1 of 2 elements)\r\n";
    n = exchange(fd, misuse_req, sizeof misuse_req - 1, buf, sizeof misuse_rep - 1);
    buf[n] = 0;
    CHECK(n == sizeof misuse_rep - 1 && memcmp(buf, misuse_rep, n) == 0);
    if (n != sizeof misuse_rep - 1 || memcmp(buf, misuse_rep, n) != 0) fprintf(stderr, "got: %s\n", buf);
    CHECK(passed == 5);
    close(fd);

    CHECK_OK(netcore_server_stop(srv, 5000));
    netcore_server_free(srv);
    return check_done("test_resp");
}
