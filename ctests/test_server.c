/* The command-server engine from C: built-in services over TCP, UDP and Unix sockets,
 * callbacks with userdata and free functions, limits, stop from a callback, NULL and bad
 * arguments, ownership. Loopback and a temporary directory only. */
#include <arpa/inet.h>
#include <pthread.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include "check.h"

static void set_timeout(int fd) {
    struct timeval tv = {20, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

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
    set_timeout(fd);
    return fd;
}

static int unix_connect(const char *path) {
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un a;
    memset(&a, 0, sizeof a);
    a.sun_family = AF_UNIX;
    strncpy(a.sun_path, path, sizeof a.sun_path - 1);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    set_timeout(fd);
    return fd;
}

static void send_all(int fd, const char *data, size_t len) {
    while (len > 0) {
        ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
        if (n <= 0) return;
        data += n;
        len -= (size_t)n;
    }
}

/* Reads one line (without the newline) into buf; returns its length or -1 at EOF. */
static int read_line(int fd, char *buf, size_t size) {
    size_t n = 0;
    while (n + 1 < size) {
        char c;
        ssize_t r = recv(fd, &c, 1, 0);
        if (r <= 0) {
            if (n == 0) return -1;
            break;
        }
        if (c == '\n') break;
        buf[n++] = c;
    }
    buf[n] = 0;
    return (int)n;
}

/* Reads until EOF. */
static size_t read_all(int fd, char *buf, size_t size) {
    size_t n = 0;
    while (n + 1 < size) {
        ssize_t r = recv(fd, buf + n, size - 1 - n, 0);
        if (r <= 0) break;
        n += (size_t)r;
    }
    buf[n] = 0;
    return n;
}

static uint16_t port_of(const netcore_server *srv, size_t index) {
    uint16_t port = 0;
    netcore_transport t;
    CHECK_OK(netcore_server_port(srv, index, &port, &t));
    return port;
}

/* ---- callbacks */

typedef struct {
    int calls;
    int freed;
    const netcore_server *server; /* for the stop command */
    int on_main_thread;           /* a callback ran on the thread that started the server */
} counter;

static pthread_t main_thread;

static int cb_count(void *userdata, const netcore_request *req, netcore_reply *reply) {
    counter *c = userdata;
    __atomic_add_fetch(&c->calls, 1, __ATOMIC_SEQ_CST);
    if (pthread_equal(pthread_self(), main_thread)) c->on_main_thread = 1;
    char text[128];
    /* The request is bytes: report the length of the arguments and whether a NUL is inside. */
    int has_nul = req->args_len > 0 && memchr(req->args, 0, req->args_len) != NULL;
    int n = snprintf(text, sizeof text, "args=%zu nul=%d cmd=%.*s", req->args_len, has_nul,
                     (int)req->command_len, (const char *)req->command);
    netcore_reply_write(reply, (const uint8_t *)text, (size_t)n);
    return 0;
}

static void free_counter(void *userdata) {
    counter *c = userdata;
    __atomic_add_fetch(&c->freed, 1, __ATOMIC_SEQ_CST);
}

static int cb_fail(void *userdata, const netcore_request *req, netcore_reply *reply) {
    (void)userdata;
    (void)req;
    (void)reply;
    return 42;
}

static int cb_error(void *userdata, const netcore_request *req, netcore_reply *reply) {
    (void)userdata;
    (void)req;
    netcore_reply_error(reply, "not allowed");
    return 0;
}

static int cb_default(void *userdata, const netcore_request *req, netcore_reply *reply) {
    (void)userdata;
    netcore_reply_write(reply, (const uint8_t *)"default:", 8);
    netcore_reply_write(reply, req->line, req->line_len);
    return 0;
}

static int cb_bye(void *userdata, const netcore_request *req, netcore_reply *reply) {
    (void)userdata;
    (void)req;
    netcore_reply_write(reply, (const uint8_t *)"see you", 7);
    netcore_reply_close(reply);
    return 0;
}

static int cb_stop(void *userdata, const netcore_request *req, netcore_reply *reply) {
    counter *c = userdata;
    (void)req;
    /* Stopping its own server from a callback only requests the stop: no deadlock. */
    netcore_status st = netcore_server_stop(c->server, 5000);
    const char *text = st == NETCORE_STATUS_OK ? "stopping" : "stop failed";
    netcore_reply_write(reply, (const uint8_t *)text, strlen(text));
    return 0;
}

/* ---- tests */

static void test_bad_arguments(void) {
    netcore_server_config *cfg = NULL;
    CHECK_STATUS(netcore_server_config_new(NULL, &cfg), NETCORE_STATUS_NULL_ARGUMENT);
    CHECK_STATUS(netcore_server_config_new("command", NULL), NETCORE_STATUS_NULL_ARGUMENT);
    CHECK_STATUS(netcore_server_config_new("shell", &cfg), NETCORE_STATUS_INVALID_ARGUMENT);
    CHECK(cfg == NULL); /* out-parameters are written only on success */
    char msg[256];
    netcore_last_error_message(msg, sizeof msg, NULL);
    CHECK(strstr(msg, "unknown service") != NULL);

    CHECK_OK(netcore_server_config_new("command", &cfg));
    CHECK_STATUS(netcore_server_config_listen_tcp(cfg, "nowhere"), NETCORE_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(netcore_server_config_listen_tcp(cfg, NULL), NETCORE_STATUS_NULL_ARGUMENT);
    CHECK_STATUS(netcore_server_config_listen_tcp(NULL, "127.0.0.1:0"), NETCORE_STATUS_NULL_ARGUMENT);
    CHECK_STATUS(netcore_server_config_set_framing(cfg, "xml"), NETCORE_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(netcore_server_config_set_max_connections(cfg, 0), NETCORE_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(netcore_server_config_set_max_line(cfg, 0), NETCORE_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(netcore_server_config_set_workers(cfg, 0), NETCORE_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(netcore_server_config_set_token(cfg, "two words"), NETCORE_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(netcore_server_config_set_banner(cfg, (const uint8_t *)"x", 1), NETCORE_STATUS_INVALID_ARGUMENT);
    counter c = {0, 0, NULL, 0};
    CHECK_STATUS(netcore_server_config_add_command(cfg, "two words", cb_count, &c, free_counter),
                 NETCORE_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(netcore_server_config_add_command(cfg, "x", NULL, &c, free_counter), NETCORE_STATUS_NULL_ARGUMENT);
    CHECK_STATUS(netcore_server_config_add_blocking_command(cfg, "two words", cb_count, &c, free_counter),
                 NETCORE_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(netcore_server_config_add_blocking_command(cfg, NULL, cb_count, &c, free_counter),
                 NETCORE_STATUS_NULL_ARGUMENT);
    CHECK_STATUS(netcore_server_config_add_blocking_command(NULL, "x", cb_count, &c, free_counter),
                 NETCORE_STATUS_NULL_ARGUMENT);
    CHECK_STATUS(netcore_server_config_set_blocking_default_handler(cfg, NULL, &c, free_counter),
                 NETCORE_STATUS_NULL_ARGUMENT);
    CHECK_STATUS(netcore_server_config_set_blocking_default_handler(NULL, cb_count, &c, free_counter),
                 NETCORE_STATUS_NULL_ARGUMENT);
    CHECK(c.freed == 0); /* on failure the caller keeps ownership */

    CHECK_OK(netcore_server_config_set_root(cfg, "/no/such/dir"));
    netcore_server *srv = NULL;
    CHECK_STATUS(netcore_server_start(cfg, &srv), NETCORE_STATUS_INVALID_ARGUMENT);
    CHECK(srv == NULL);
    CHECK_STATUS(netcore_server_start(NULL, &srv), NETCORE_STATUS_NULL_ARGUMENT);
    netcore_server_config_free(cfg);

    /* A port in use: OS_ERROR with errno EADDRINUSE. */
    int taken = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t alen = sizeof a;
    CHECK(bind(taken, (struct sockaddr *)&a, sizeof a) == 0 && listen(taken, 1) == 0);
    getsockname(taken, (struct sockaddr *)&a, &alen);
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%u", (unsigned)ntohs(a.sin_port));
    CHECK_OK(netcore_server_config_new("echo", &cfg));
    CHECK_OK(netcore_server_config_listen_tcp(cfg, addr));
    CHECK_STATUS(netcore_server_start(cfg, &srv), NETCORE_STATUS_OS_ERROR);
    CHECK(netcore_last_error_code() == EADDRINUSE);
    char expected[128], got[128];
    snprintf(expected, sizeof expected, "cannot listen on %s: address already in use", addr);
    CHECK_OK(netcore_last_error_message(got, sizeof got, NULL));
    CHECK(strcmp(got, expected) == 0);
    netcore_server_config_free(cfg);
    close(taken);

    netcore_server_config_free(NULL);
    netcore_server_free(NULL);
    CHECK(netcore_server_address_count(NULL) == 0);
    CHECK_STATUS(netcore_server_stop(NULL, 0), NETCORE_STATUS_NULL_ARGUMENT);
    CHECK_STATUS(netcore_reply_write(NULL, (const uint8_t *)"x", 1), NETCORE_STATUS_NULL_ARGUMENT);
}

static void test_command_service_and_callbacks(const char *dir) {
    counter c = {0, 0, NULL, 0};
    netcore_server_config *cfg = NULL;
    CHECK_OK(netcore_server_config_new("command", &cfg));
    CHECK_OK(netcore_server_config_listen_tcp(cfg, "127.0.0.1:0"));
    CHECK_OK(netcore_server_config_set_root(cfg, dir));
    CHECK_OK(netcore_server_config_add_command(cfg, "count", cb_count, &c, free_counter));
    CHECK_OK(netcore_server_config_add_command(cfg, "fail", cb_fail, NULL, NULL));
    CHECK_OK(netcore_server_config_add_command(cfg, "deny", cb_error, NULL, NULL));
    CHECK_OK(netcore_server_config_add_command(cfg, "bye", cb_bye, NULL, NULL));
    netcore_server *srv = NULL;
    CHECK_OK(netcore_server_start(cfg, &srv));
    netcore_server_config_free(cfg); /* the server keeps the callback */
    CHECK(c.freed == 0);
    if (srv == NULL) return;

    CHECK(netcore_server_address_count(srv) == 1);
    char *addr = NULL;
    CHECK_OK(netcore_server_address(srv, 0, &addr));
    CHECK(addr != NULL && strncmp(addr, "127.0.0.1:", 10) == 0);
    netcore_string_free(addr);
    CHECK_STATUS(netcore_server_address(srv, 5, &addr), NETCORE_STATUS_OUT_OF_RANGE);
    uint16_t port = port_of(srv, 0);
    CHECK(port != 0);

    int fd = tcp_connect(port);
    CHECK(fd >= 0);
    const char req[] = "os\nls\ndate\ncount a\0b\nfail\ndeny\nhello\n";
    send_all(fd, req, sizeof req - 1);
    char line[512];
    read_line(fd, line, sizeof line);
    CHECK_STR(line, "[posix]");
    read_line(fd, line, sizeof line);
    CHECK_STR(line, "[\"file.txt\"]");
    read_line(fd, line, sizeof line);
    CHECK(line[0] == '[' && strstr(line, "] date") != NULL);
    read_line(fd, line, sizeof line);
    CHECK_STR(line, "args=3 nul=1 cmd=count");
    read_line(fd, line, sizeof line);
    CHECK_STR(line, "error: command failed (42)");
    read_line(fd, line, sizeof line);
    CHECK_STR(line, "error: not allowed");
    read_line(fd, line, sizeof line);
    CHECK_STR(line, "welcome");

    /* A default handler and a command added while serving. */
    counter c2 = {0, 0, NULL, 0};
    CHECK_OK(netcore_server_add_command(srv, "late", cb_count, &c2, free_counter));
    counter c3 = {0, 0, NULL, 0};
    CHECK_STATUS(netcore_server_add_blocking_command(srv, "two words", cb_count, &c3, free_counter),
                 NETCORE_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(netcore_server_add_blocking_command(NULL, "x", cb_count, &c3, free_counter),
                 NETCORE_STATUS_NULL_ARGUMENT);
    CHECK(c3.freed == 0);
    CHECK_OK(netcore_server_add_blocking_command(srv, "later", cb_count, &c3, free_counter));
    send_all(fd, "late x\nlater\nbye\n", 18);
    read_line(fd, line, sizeof line);
    CHECK_STR(line, "args=1 nul=0 cmd=late");
    read_line(fd, line, sizeof line);
    CHECK_STR(line, "args=0 nul=0 cmd=later");
    read_line(fd, line, sizeof line);
    CHECK_STR(line, "see you");
    CHECK(read_line(fd, line, sizeof line) == -1); /* closed by the callback */
    close(fd);

    netcore_server_stats st;
    CHECK_OK(netcore_server_get_stats(srv, &st));
    CHECK(st.requests == 10);
    CHECK(st.connections_total == 1);
    CHECK(st.errors == 2);
    CHECK(st.bytes_in > 0 && st.bytes_out > 0);
    CHECK(c.calls == 1 && c2.calls == 1 && c3.calls == 1);
    CHECK(!c.on_main_thread && !c2.on_main_thread && !c3.on_main_thread); /* on the engine's threads */

    CHECK_OK(netcore_server_stop(srv, 5000));
    CHECK(tcp_connect(port) < 0);
    netcore_server_free(srv);
    CHECK(c.freed == 1);  /* exactly once, when nothing uses it */
    CHECK(c2.freed == 1 && c3.freed == 1);
}

static void test_default_handler_and_line_limit(void) {
    netcore_server_config *cfg = NULL;
    CHECK_OK(netcore_server_config_new("custom", &cfg));
    CHECK_OK(netcore_server_config_set_default_handler(cfg, cb_default, NULL, NULL));
    CHECK_OK(netcore_server_config_set_max_line(cfg, 16));
    netcore_server *srv = NULL;
    CHECK_OK(netcore_server_start(cfg, &srv)); /* no listener given: 127.0.0.1, port 0 */
    netcore_server_config_free(cfg);
    if (srv == NULL) return;
    int fd = tcp_connect(port_of(srv, 0));
    send_all(fd, "anything\nthis line is far too long\n", 35);
    char line[256];
    read_line(fd, line, sizeof line);
    CHECK_STR(line, "default:anything");
    read_line(fd, line, sizeof line);
    CHECK_STR(line, "error: line too long (limit 16 bytes)");
    CHECK(read_line(fd, line, sizeof line) == -1);
    close(fd);
    netcore_server_free(srv); /* frees a running server */
}

static void test_greet_banner_echo(const char *dir) {
    /* greet, message framing, TCP + UDP: seed 002. */
    netcore_server_config *cfg = NULL;
    CHECK_OK(netcore_server_config_new("greet", &cfg));
    CHECK_OK(netcore_server_config_set_framing(cfg, "message"));
    CHECK_OK(netcore_server_config_listen_tcp(cfg, "127.0.0.1:0"));
    CHECK_OK(netcore_server_config_listen_udp(cfg, "127.0.0.1:0"));
    netcore_server *srv = NULL;
    CHECK_OK(netcore_server_start(cfg, &srv));
    netcore_server_config_free(cfg);
    if (srv == NULL) return;
    uint16_t udp_port = 0;
    netcore_transport t;
    CHECK_OK(netcore_server_port(srv, 1, &udp_port, &t));
    CHECK(t == NETCORE_TRANSPORT_UDP);

    int fd = tcp_connect(port_of(srv, 0));
    char buf[256];
    ssize_t n = recv(fd, buf, sizeof buf - 1, 0);
    buf[n > 0 ? n : 0] = 0;
    CHECK_STR(buf, "Hello, I am server");
    send_all(fd, "client1", 7);
    n = recv(fd, buf, sizeof buf - 1, 0);
    buf[n > 0 ? n : 0] = 0;
    CHECK_STR(buf, "Hello, client1!");
    send_all(fd, "exit", 4);
    CHECK(recv(fd, buf, sizeof buf, 0) == 0);
    close(fd);

    int u = socket(AF_INET, SOCK_DGRAM, 0);
    set_timeout(u);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons(udp_port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sendto(u, "client1", 7, 0, (struct sockaddr *)&a, sizeof a);
    n = recv(u, buf, sizeof buf - 1, 0);
    buf[n > 0 ? n : 0] = 0;
    CHECK_STR(buf, "Hello, client1");
    close(u);
    netcore_server_free(srv);

    /* banner over a Unix socket (mode 0600): seed 004's welcome server. */
    char path[512];
    snprintf(path, sizeof path, "%s/banner.sock", dir);
    CHECK_OK(netcore_server_config_new("banner", &cfg));
    const char *welcome = "\xe6\xac\xa2\xe8\xbf\x8e\xe8\xae\xbf\xe9\x97\xae\xef\xbc\x81\r\n";
    CHECK_OK(netcore_server_config_set_banner(cfg, (const uint8_t *)welcome, strlen(welcome)));
    CHECK_OK(netcore_server_config_set_framing(cfg, "message"));
    CHECK_OK(netcore_server_config_listen_unix(cfg, path));
    CHECK_OK(netcore_server_start(cfg, &srv));
    netcore_server_config_free(cfg);
    if (srv == NULL) return;
    struct stat sb;
    CHECK(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0600);
    fd = unix_connect(path);
    CHECK(fd >= 0);
    read_all(fd, buf, sizeof buf);
    CHECK_STR(buf, welcome);
    close(fd);
    CHECK_OK(netcore_server_stop(srv, 5000));
    CHECK(access(path, F_OK) != 0); /* removed on stop */
    netcore_server_free(srv);

    /* echo, line framing, over Unix. */
    CHECK_OK(netcore_server_config_new("echo", &cfg));
    CHECK_OK(netcore_server_config_listen_unix(cfg, path));
    CHECK_OK(netcore_server_start(cfg, &srv));
    netcore_server_config_free(cfg);
    if (srv == NULL) return;
    fd = unix_connect(path);
    send_all(fd, "one\r\ntwo\n", 9);
    shutdown(fd, SHUT_WR);
    read_all(fd, buf, sizeof buf);
    CHECK_STR(buf, "one\ntwo\n");
    close(fd);
    netcore_server_free(srv);
}

static void test_limits_and_token(void) {
    netcore_server_config *cfg = NULL;
    CHECK_OK(netcore_server_config_new("command", &cfg));
    CHECK_OK(netcore_server_config_set_max_connections(cfg, 1));
    CHECK_OK(netcore_server_config_set_token(cfg, "s3cret"));
    CHECK_OK(netcore_server_config_set_idle_timeout_ms(cfg, 20000));
    CHECK_OK(netcore_server_config_set_max_output(cfg, 4096));
    CHECK_STATUS(netcore_server_config_set_backlog(cfg, 0), NETCORE_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(netcore_server_config_set_backlog(NULL, 16), NETCORE_STATUS_NULL_ARGUMENT);
    CHECK_OK(netcore_server_config_set_backlog(cfg, 16));
    /* Busy poll: at most 100000 us; a refused value keeps the config. */
    CHECK_STATUS(netcore_server_config_set_busy_poll_us(cfg, 100001), NETCORE_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(netcore_server_config_set_busy_poll_us(NULL, 50), NETCORE_STATUS_NULL_ARGUMENT);
    CHECK_OK(netcore_server_config_set_busy_poll_us(cfg, 50));
    CHECK_OK(netcore_server_config_set_workers(cfg, 1));
    netcore_server *srv = NULL;
    CHECK_OK(netcore_server_start(cfg, &srv));
    netcore_server_config_free(cfg);
    if (srv == NULL) return;
    uint16_t port = port_of(srv, 0);
    int first = tcp_connect(port);
    char line[256];
    send_all(first, "s3cret\nos\n", 10);
    read_line(first, line, sizeof line);
    CHECK_STR(line, "ok");
    read_line(first, line, sizeof line);
    CHECK_STR(line, "[posix]");
    int second = tcp_connect(port);
    read_line(second, line, sizeof line);
    CHECK_STR(line, "error: too many connections");
    close(second);
    close(first);
    /* The slot comes back; a wrong token is turned away. */
    int third = -1;
    for (int i = 0; i < 200; i++) {
        netcore_server_stats st;
        netcore_server_get_stats(srv, &st);
        if (st.connections_open == 0) break;
        struct timespec ts = {0, 20000000};
        nanosleep(&ts, NULL);
    }
    third = tcp_connect(port);
    send_all(third, "guess\n", 6);
    read_line(third, line, sizeof line);
    CHECK_STR(line, "error: authentication required");
    close(third);
    netcore_server_stats st;
    CHECK_OK(netcore_server_get_stats(srv, &st));
    CHECK(st.rejected == 2);
    netcore_server_free(srv);
}

static void test_stop_from_a_callback(void) {
    counter c = {0, 0, NULL, 0};
    netcore_server_config *cfg = NULL;
    CHECK_OK(netcore_server_config_new("command", &cfg));
    CHECK_OK(netcore_server_config_add_command(cfg, "stop", cb_stop, &c, NULL));
    netcore_server *srv = NULL;
    CHECK_OK(netcore_server_start(cfg, &srv));
    netcore_server_config_free(cfg);
    if (srv == NULL) return;
    c.server = srv;
    bool stopping = true;
    CHECK_OK(netcore_server_wait(srv, 10, &stopping));
    CHECK(!stopping);
    int fd = tcp_connect(port_of(srv, 0));
    send_all(fd, "stop\n", 5);
    char line[64];
    read_line(fd, line, sizeof line);
    CHECK_STR(line, "stopping");
    CHECK_OK(netcore_server_wait(srv, -1, &stopping)); /* serve_forever */
    CHECK(stopping);
    CHECK_OK(netcore_server_stop(srv, 5000));
    CHECK(read_line(fd, line, sizeof line) == -1);
    close(fd);
    netcore_server_free(srv);
}


/* ---- batches (issue 13): pipelined requests reach the callbacks together, in order */

typedef struct {
    pthread_mutex_t lock;
    int next;         /* the argument the next call must see */
    int out_of_order; /* a call saw another one */
    int sleeping;     /* cb_nap calls inside their sleep */
    const netcore_server *server;
} sequence;

/* "n K": replies K+1; checks the calls come in the order sent; "n 13" fails. */
static int cb_next(void *userdata, const netcore_request *req, netcore_reply *reply) {
    sequence *s = userdata;
    char digits[16] = {0}; /* the args are not NUL-terminated */
    memcpy(digits, req->args, req->args_len < sizeof digits - 1 ? req->args_len : sizeof digits - 1);
    int k = atoi(digits);
    pthread_mutex_lock(&s->lock);
    if (k != s->next) s->out_of_order = 1;
    s->next = k + 1;
    pthread_mutex_unlock(&s->lock);
    if (k == 13) return 13;
    char text[32];
    int n = snprintf(text, sizeof text, "%d", k + 1);
    netcore_reply_write(reply, (const uint8_t *)text, (size_t)n);
    return 0;
}

/* Blocks for two seconds, like a callback doing slow I/O. */
static int cb_nap(void *userdata, const netcore_request *req, netcore_reply *reply) {
    sequence *s = userdata;
    (void)req;
    __atomic_add_fetch(&s->sleeping, 1, __ATOMIC_SEQ_CST);
    struct timespec ts = {2, 0};
    nanosleep(&ts, NULL);
    __atomic_sub_fetch(&s->sleeping, 1, __ATOMIC_SEQ_CST);
    netcore_reply_write(reply, (const uint8_t *)"rested", 6);
    return 0;
}

static int cb_stop_seq(void *userdata, const netcore_request *req, netcore_reply *reply) {
    sequence *s = userdata;
    (void)req;
    netcore_status st = netcore_server_request_stop(s->server);
    netcore_reply_write(reply, (const uint8_t *)(st == NETCORE_STATUS_OK ? "stopping" : "failed"), st == NETCORE_STATUS_OK ? 8 : 6);
    return 0;
}

static void test_batches(void) {
    sequence s = {PTHREAD_MUTEX_INITIALIZER, 0, 0, 0, NULL};
    netcore_server_config *cfg = NULL;
    CHECK_OK(netcore_server_config_new("command", &cfg));
    CHECK_OK(netcore_server_config_set_workers(cfg, 1));
    CHECK_OK(netcore_server_config_add_command(cfg, "n", cb_next, &s, NULL));
    CHECK_OK(netcore_server_config_add_blocking_command(cfg, "nap", cb_nap, &s, NULL));
    CHECK_OK(netcore_server_config_add_command(cfg, "stop", cb_stop_seq, &s, NULL));
    netcore_server *srv = NULL;
    CHECK_OK(netcore_server_start(cfg, &srv));
    netcore_server_config_free(cfg);
    if (srv == NULL) return;
    s.server = srv;
    uint16_t port = port_of(srv, 0);

    /* 300 requests in one write, built-in ones between: in order, the failing one answered
     * with its error and the others around it with theirs. */
    char req[8192];
    size_t len = 0;
    for (int k = 0; k < 300; k++) {
        len += (size_t)snprintf(req + len, sizeof req - len, k % 10 == 5 ? "os\nn %d\n" : "n %d\n", k);
    }
    int fd = tcp_connect(port);
    send_all(fd, req, len);
    char line[128];
    int wrong = 0;
    for (int k = 0; k < 300; k++) {
        if (k % 10 == 5) {
            read_line(fd, line, sizeof line);
            if (strcmp(line, "[posix]") != 0) wrong++;
        }
        read_line(fd, line, sizeof line);
        char want[48];
        snprintf(want, sizeof want, k == 13 ? "error: command failed (13)" : "%d", k + 1);
        if (strcmp(line, want) != 0) wrong++;
    }
    CHECK(wrong == 0);
    CHECK(!s.out_of_order);

    /* A callback registered as blocking stalls no other client, even with one engine
     * thread: it runs inside block_in_place, which hands the thread's other clients on first. */
    int slow = tcp_connect(port);
    send_all(slow, "nap\n", 4);
    for (int i = 0; i < 150 && __atomic_load_n(&s.sleeping, __ATOMIC_SEQ_CST) == 0; i++) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    CHECK(__atomic_load_n(&s.sleeping, __ATOMIC_SEQ_CST) == 1);
    send_all(fd, "os\n", 3);
    read_line(fd, line, sizeof line);
    CHECK_STR(line, "[posix]");
    CHECK(__atomic_load_n(&s.sleeping, __ATOMIC_SEQ_CST) == 1); /* answered while it sleeps */
    read_line(slow, line, sizeof line);
    CHECK_STR(line, "rested");
    close(slow);

    /* Stopping from a callback in the middle of a batch: the rest is still answered. */
    s.next = 500;
    const char *batch = "n 500\nstop\nn 501\nos\n";
    send_all(fd, batch, strlen(batch));
    char all[256];
    read_all(fd, all, sizeof all);
    CHECK_STR(all, "501\nstopping\n502\n[posix]\n");
    close(fd);
    bool stopping = false;
    CHECK_OK(netcore_server_wait(srv, -1, &stopping));
    CHECK(stopping);
    netcore_server_free(srv);
}

/* One UDP request and its reply datagram. */
static void udp_ask(uint16_t port, const char *msg, char *buf, size_t size) {
    int u = socket(AF_INET, SOCK_DGRAM, 0);
    set_timeout(u);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sendto(u, msg, strlen(msg), 0, (struct sockaddr *)&a, sizeof a);
    ssize_t n = recv(u, buf, size - 1, 0);
    buf[n > 0 ? n : 0] = 0;
    close(u);
}

/* Every built-in service over TCP, UDP and a Unix socket, line framing. */
static void test_every_service_everywhere(const char *dir) {
    static const struct {
        const char *service, *banner, *request, *reply, *udp_reply;
    } cases[] = {
        {"command", NULL, "os", "[posix]", "[posix]"},
        {"greet", "Hello, I am server", "bob", "Hello, bob!", "Hello, bob"},
        {"banner", "Thank you for connection", NULL, NULL, "Thank you for connection"},
        {"echo", NULL, "same", "same", "same"},
    };
    char path[512], line[256];
    snprintf(path, sizeof path, "%s/every.sock", dir);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        netcore_server_config *cfg = NULL;
        CHECK_OK(netcore_server_config_new(cases[i].service, &cfg));
        CHECK_OK(netcore_server_config_listen_tcp(cfg, "127.0.0.1:0"));
        CHECK_OK(netcore_server_config_listen_udp(cfg, "127.0.0.1:0"));
        CHECK_OK(netcore_server_config_listen_unix(cfg, path));
        netcore_server *srv = NULL;
        CHECK_OK(netcore_server_start(cfg, &srv));
        netcore_server_config_free(cfg);
        if (srv == NULL) continue;
        for (int unix_side = 0; unix_side < 2; unix_side++) {
            int fd = unix_side ? unix_connect(path) : tcp_connect(port_of(srv, 0));
            CHECK(fd >= 0);
            if (cases[i].banner) {
                read_line(fd, line, sizeof line);
                CHECK_STR(line, cases[i].banner);
            }
            if (cases[i].request) {
                char req[64];
                int n = snprintf(req, sizeof req, "%s\n", cases[i].request);
                send_all(fd, req, (size_t)n);
                read_line(fd, line, sizeof line);
                CHECK_STR(line, cases[i].reply);
            } else {
                CHECK(read_line(fd, line, sizeof line) == -1); /* banner: closed after the text */
            }
            close(fd);
        }
        char buf[256];
        udp_ask(port_of(srv, 1), cases[i].request ? cases[i].request : "x", buf, sizeof buf);
        CHECK_STR(buf, cases[i].udp_reply);
        netcore_server_free(srv);
    }
}

int main(void) {
    main_thread = pthread_self();
    char dir[] = "/tmp/netcore-ctest-XXXXXX";
    if (mkdtemp(dir) == NULL) return 1;
    char file[512];
    snprintf(file, sizeof file, "%s/file.txt", dir);
    FILE *f = fopen(file, "w");
    if (f) fclose(f);

    test_bad_arguments();
    test_command_service_and_callbacks(dir);
    test_default_handler_and_line_limit();
    test_greet_banner_echo(dir);
    test_every_service_everywhere(dir);
    test_limits_and_token();
    test_stop_from_a_callback();
    test_batches();

    unlink(file);
    rmdir(dir);
    return check_done("test_server");
}
