/* The client from C against small servers this test starts itself (plain POSIX sockets,
 * one thread per connection): requests, pipelining, message framing, UDP, timeouts, a
 * server that closes mid-reply, NULL arguments and ownership. */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include "check.h"

enum mode { LINE, MESSAGE };

struct listener {
    int fd;
    enum mode mode;
};

static void send_all(int fd, const char *p, size_t n) {
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0) return;
        p += w;
        n -= (size_t)w;
    }
}

/* Line server: "quit" closes at once, "half" sends part of a reply and closes, "silent"
 * never answers, "big" answers with a 2 MiB line, anything else gets "got <line>\r\n". */
static void serve_lines(int fd) {
    char buf[4096];
    size_t used = 0;
    for (;;) {
        ssize_t n = recv(fd, buf + used, sizeof buf - used, 0);
        if (n <= 0) return;
        used += (size_t)n;
        char *nl;
        while ((nl = memchr(buf, '\n', used)) != NULL) {
            *nl = '\0';
            if (strcmp(buf, "quit") == 0) return;
            if (strcmp(buf, "half") == 0) { send_all(fd, "par", 3); return; }
            if (strcmp(buf, "big") == 0) {
                size_t size = 2u << 20;
                char *big = malloc(size + 1);
                memset(big, 'x', size);
                big[size] = '\n';
                send_all(fd, big, size + 1);
                free(big);
            } else if (strcmp(buf, "silent") != 0) {
                char reply[4200];
                int len = snprintf(reply, sizeof reply, "got %s\r\n", buf);
                send_all(fd, reply, (size_t)len);
            }
            size_t consumed = (size_t)(nl - buf) + 1;
            memmove(buf, nl + 1, used - consumed);
            used -= consumed;
        }
        if (used == sizeof buf) return;
    }
}

/* Seed 000's framing: each chunk received is answered as "[<chunk>]" with no newline. */
static void serve_messages(int fd) {
    send_all(fd, "Hello, I am server", 18);
    char buf[1024], reply[1100];
    for (;;) {
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n <= 0) return;
        int len = snprintf(reply, sizeof reply, "[%.*s]", (int)n, buf);
        send_all(fd, reply, (size_t)len);
    }
}

struct conn {
    int fd;
    enum mode mode;
};

static void *conn_thread(void *arg) {
    struct conn c = *(struct conn *)arg;
    free(arg);
    if (c.mode == LINE) serve_lines(c.fd); else serve_messages(c.fd);
    close(c.fd);
    return NULL;
}

static void *accept_thread(void *arg) {
    struct listener *l = arg;
    for (;;) {
        int fd = accept(l->fd, NULL, NULL);
        if (fd < 0) return NULL; /* the listener was shut down */
        struct conn *c = malloc(sizeof *c);
        c->fd = fd;
        c->mode = l->mode;
        pthread_t t;
        pthread_create(&t, NULL, conn_thread, c);
        pthread_detach(t);
    }
}

static uint16_t start_tcp(struct listener *l, enum mode mode, pthread_t *thread) {
    struct sockaddr_in addr = {0};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    l->fd = socket(AF_INET, SOCK_STREAM, 0);
    l->mode = mode;
    bind(l->fd, (struct sockaddr *)&addr, sizeof addr);
    listen(l->fd, 16);
    socklen_t len = sizeof addr;
    getsockname(l->fd, (struct sockaddr *)&addr, &len);
    pthread_create(thread, NULL, accept_thread, l);
    return ntohs(addr.sin_port);
}

static void stop(struct listener *l, pthread_t thread) {
    shutdown(l->fd, SHUT_RDWR);
    pthread_join(thread, NULL);
    close(l->fd);
}

static uint16_t unused_port(void) {
    struct sockaddr_in addr = {0};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    bind(fd, (struct sockaddr *)&addr, sizeof addr);
    socklen_t len = sizeof addr;
    getsockname(fd, (struct sockaddr *)&addr, &len);
    close(fd);
    return ntohs(addr.sin_port);
}

static void test_request_and_pipeline(uint16_t port) {
    netcore_client *c = NULL;
    CHECK_OK(netcore_client_new("localhost", port, 5000, &c));
    char *reply = NULL;
    CHECK_OK(netcore_client_request(c, "hello", &reply));
    CHECK_STR(reply, "got hello"); /* "\r\n" stripped */
    netcore_string_free(reply);

    enum { N = 500 };
    static char texts[N][16];
    const char *lines[N];
    for (int i = 0; i < N; i++) {
        snprintf(texts[i], sizeof texts[i], "n%d", i);
        lines[i] = texts[i];
    }
    netcore_string_list *replies = NULL;
    CHECK_OK(netcore_client_pipeline(c, lines, N, &replies));
    CHECK(netcore_string_list_len(replies) == N);
    const char *item = NULL;
    CHECK_OK(netcore_string_list_get(replies, 0, &item));
    CHECK_STR(item, "got n0");
    CHECK_OK(netcore_string_list_get(replies, N - 1, &item));
    CHECK_STR(item, "got n499");
    netcore_string_list_free(replies);

    /* A newline inside a request is refused and the connection stays usable. */
    reply = NULL;
    CHECK_STATUS(netcore_client_request(c, "a\nb", &reply), NETCORE_STATUS_INVALID_ARGUMENT);
    CHECK(reply == NULL);
    CHECK_OK(netcore_client_request(c, "still there", &reply));
    CHECK_STR(reply, "got still there");
    netcore_string_free(reply);

    /* A smaller reply limit: a 9-byte reply passes, an 11-byte one is too long. */
    CHECK_STATUS(netcore_client_set_max_reply(c, 0), NETCORE_STATUS_INVALID_ARGUMENT);
    CHECK_OK(netcore_client_set_max_reply(c, 10));
    CHECK_OK(netcore_client_set_quiet(c, 100));
    CHECK_OK(netcore_client_request(c, "12345", &reply));
    CHECK_STR(reply, "got 12345");
    netcore_string_free(reply);
    CHECK_OK(netcore_client_set_max_reply(c, 1 << 20));

    /* The busy-poll window: off, the longest, too long (refused, nothing changes), NULL. */
    CHECK_STATUS(netcore_client_set_busy_poll_us(c, 100001), NETCORE_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(netcore_client_set_busy_poll_us(NULL, 50), NETCORE_STATUS_NULL_ARGUMENT);
    CHECK_OK(netcore_client_set_busy_poll_us(c, 0));
    CHECK_OK(netcore_client_request(c, "unpolled", &reply));
    CHECK_STR(reply, "got unpolled");
    netcore_string_free(reply);
    CHECK_OK(netcore_client_set_busy_poll_us(c, 100000));
    CHECK_OK(netcore_client_request(c, "polled", &reply));
    CHECK_STR(reply, "got polled");
    netcore_string_free(reply);

    /* Raw send, then read the reply line. */
    CHECK_OK(netcore_client_send(c, (const uint8_t *)"raw\r\n", 5));
    CHECK_OK(netcore_client_read_line(c, &reply));
    CHECK_STR(reply, "got raw\r");
    netcore_string_free(reply);
    CHECK_STATUS(netcore_client_send(c, NULL, 1), NETCORE_STATUS_NULL_ARGUMENT);
    CHECK_STATUS(netcore_client_read_line(c, NULL), NETCORE_STATUS_NULL_ARGUMENT);
    netcore_client_free(c);
}

static void test_failures(uint16_t port) {
    netcore_client *c = NULL;
    char *reply = NULL;
    char msg[256];

    /* Closed before any reply, then the handle refuses further work. */
    CHECK_OK(netcore_client_new("127.0.0.1", port, 5000, &c));
    CHECK_STATUS(netcore_client_request(c, "quit", &reply), NETCORE_STATUS_CONNECTION_CLOSED);
    CHECK_STATUS(netcore_client_request(c, "hello", &reply), NETCORE_STATUS_INVALID_STATE);
    netcore_last_error_message(msg, sizeof msg, NULL);
    CHECK(strstr(msg, "closed") != NULL);
    CHECK(reply == NULL);
    netcore_client_free(c);

    /* Closed in the middle of a reply. */
    CHECK_OK(netcore_client_new("127.0.0.1", port, 5000, &c));
    CHECK_STATUS(netcore_client_request(c, "half", &reply), NETCORE_STATUS_CONNECTION_CLOSED);
    netcore_client_free(c);

    /* No reply within the timeout. */
    CHECK_OK(netcore_client_new("127.0.0.1", port, 200, &c));
    CHECK_STATUS(netcore_client_request(c, "silent", &reply), NETCORE_STATUS_TIMEOUT);
    CHECK(netcore_last_error_code() == ETIMEDOUT);
    netcore_client_free(c);

    /* A reply over the 1 MiB limit, and over a limit set lower. */
    CHECK_OK(netcore_client_new("127.0.0.1", port, 5000, &c));
    CHECK_STATUS(netcore_client_request(c, "big", &reply), NETCORE_STATUS_LINE_TOO_LONG);
    netcore_client_free(c);
    CHECK_OK(netcore_client_new("127.0.0.1", port, 5000, &c));
    CHECK_OK(netcore_client_set_max_reply(c, 10));
    CHECK_STATUS(netcore_client_request(c, "1234567", &reply), NETCORE_STATUS_LINE_TOO_LONG); /* 11 bytes */
    netcore_client_free(c);

    /* Refused and unknown host; the out-parameter stays untouched. */
    c = (netcore_client *)0x1;
    CHECK_STATUS(netcore_client_new("127.0.0.1", unused_port(), 2000, &c), NETCORE_STATUS_CONNECTION_REFUSED);
    CHECK(netcore_last_error_code() == ECONNREFUSED);
    CHECK_STATUS(netcore_client_new("no-such-host.invalid", 80, 2000, &c), NETCORE_STATUS_ADDRESS_INFO);
    CHECK(c == (netcore_client *)0x1);
    CHECK(reply == NULL);
}

static void test_messages(uint16_t port) {
    netcore_client *c = NULL;
    uint8_t *data = NULL;
    size_t len = 0;
    CHECK_OK(netcore_client_new("127.0.0.1", port, 5000, &c));
    CHECK_OK(netcore_client_greeting(c, 2000, &data, &len));
    CHECK(data != NULL && len == 18 && memcmp(data, "Hello, I am server", 18) == 0);
    netcore_bytes_free(data, len);
    /* Nothing more is coming: no greeting, and the connection stays usable. */
    CHECK_OK(netcore_client_greeting(c, 50, &data, &len));
    CHECK(data == NULL && len == 0);
    CHECK_OK(netcore_client_message(c, (const uint8_t *)"os", 2, &data, &len));
    CHECK(len == 4 && memcmp(data, "[os]", 4) == 0);
    netcore_bytes_free(data, len);
    netcore_client_free(c);

    CHECK_OK(netcore_client_new("127.0.0.1", port, 5000, &c));
    CHECK_OK(netcore_client_receive(c, &data, &len));
    CHECK(len == 18 && memcmp(data, "Hello, I am server", 18) == 0);
    netcore_bytes_free(data, len);
    CHECK_OK(netcore_client_message(c, (const uint8_t *)"date", 4, &data, &len));
    CHECK(len == 6 && memcmp(data, "[date]", 6) == 0);
    netcore_bytes_free(data, len);
    data = NULL;
    CHECK_STATUS(netcore_client_message(c, NULL, 0, &data, &len), NETCORE_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(netcore_client_message(c, NULL, 3, &data, &len), NETCORE_STATUS_NULL_ARGUMENT);
    CHECK(data == NULL);
    netcore_client_free(c);
}

static void *udp_server(void *arg) {
    int fd = *(int *)arg;
    char buf[1500], reply[1600];
    struct sockaddr_storage from;
    for (int i = 0; i < 2; i++) {
        socklen_t len = sizeof from;
        ssize_t n = recvfrom(fd, buf, sizeof buf, 0, (struct sockaddr *)&from, &len);
        if (n < 0) return NULL;
        int m = snprintf(reply, sizeof reply, "Hello, %.*s", (int)n, buf);
        sendto(fd, reply, (size_t)m, 0, (struct sockaddr *)&from, len);
    }
    return NULL;
}

static void test_udp(void) {
    struct sockaddr_in addr = {0};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    bind(fd, (struct sockaddr *)&addr, sizeof addr);
    socklen_t alen = sizeof addr;
    getsockname(fd, (struct sockaddr *)&addr, &alen);
    uint16_t port = ntohs(addr.sin_port);
    pthread_t t;
    pthread_create(&t, NULL, udp_server, &fd);

    uint8_t *data = NULL;
    size_t len = 0;
    CHECK_OK(netcore_udp_request("127.0.0.1", port, (const uint8_t *)"client1", 7, 2000, 2, &data, &len));
    CHECK(len == 14 && memcmp(data, "Hello, client1", 14) == 0);
    netcore_bytes_free(data, len);
    CHECK_OK(netcore_udp_request("127.0.0.1", port, (const uint8_t *)"client2", 7, 2000, 2, &data, &len));
    netcore_bytes_free(data, len);
    pthread_join(t, NULL);
    /* The server read its two datagrams and stays silent now. */
    data = NULL;
    CHECK_STATUS(netcore_udp_request("127.0.0.1", port, (const uint8_t *)"x", 1, 50, 1, &data, &len),
                 NETCORE_STATUS_TIMEOUT);
    close(fd);
    CHECK_STATUS(netcore_udp_request("127.0.0.1", port, (const uint8_t *)"x", 1, 500, 0, &data, &len),
                 NETCORE_STATUS_CONNECTION_REFUSED);
    CHECK(data == NULL);
}

static void test_unix(void) {
    char path[108];
    snprintf(path, sizeof path, "/tmp/netcore-ctest-%d.sock", (int)getpid());
    unlink(path);
    struct sockaddr_un addr = {0};
    addr.sun_family = AF_UNIX;
    strncpy(addr.sun_path, path, sizeof addr.sun_path - 1);
    struct listener l = { socket(AF_UNIX, SOCK_STREAM, 0), LINE };
    bind(l.fd, (struct sockaddr *)&addr, sizeof addr);
    listen(l.fd, 4);
    pthread_t t;
    pthread_create(&t, NULL, accept_thread, &l);

    netcore_client *c = NULL;
    char *reply = NULL;
    CHECK_OK(netcore_client_new_unix(path, 5000, &c));
    CHECK_OK(netcore_client_request(c, "via unix", &reply));
    CHECK_STR(reply, "got via unix");
    netcore_string_free(reply);
    netcore_client_free(c);
    stop(&l, t);
    unlink(path);
    CHECK_STATUS(netcore_client_new_unix(path, 1000, &c), NETCORE_STATUS_OS_ERROR);
    CHECK(netcore_last_error_code() == ENOENT);
}

static void test_null_arguments(void) {
    netcore_client *c = NULL;
    char *reply = NULL;
    netcore_string_list *list = NULL;
    uint8_t *data = NULL;
    size_t len = 0;
    CHECK_STATUS(netcore_client_new(NULL, 1, 0, &c), NETCORE_STATUS_NULL_ARGUMENT);
    CHECK_STATUS(netcore_client_new("localhost", 1, 0, NULL), NETCORE_STATUS_NULL_ARGUMENT);
    CHECK_STATUS(netcore_client_new_unix(NULL, 0, &c), NETCORE_STATUS_NULL_ARGUMENT);
    CHECK_STATUS(netcore_client_request(NULL, "x", &reply), NETCORE_STATUS_NULL_ARGUMENT);
    CHECK_STATUS(netcore_client_pipeline(NULL, NULL, 0, &list), NETCORE_STATUS_NULL_ARGUMENT);
    CHECK_STATUS(netcore_client_receive(NULL, &data, &len), NETCORE_STATUS_NULL_ARGUMENT);
    CHECK_STATUS(netcore_client_set_timeout(NULL, 0), NETCORE_STATUS_NULL_ARGUMENT);
    CHECK_STATUS(netcore_client_set_max_reply(NULL, 1), NETCORE_STATUS_NULL_ARGUMENT);
    CHECK_STATUS(netcore_client_set_quiet(NULL, 1), NETCORE_STATUS_NULL_ARGUMENT);
    CHECK_STATUS(netcore_udp_request(NULL, 1, NULL, 0, 0, 0, &data, &len), NETCORE_STATUS_NULL_ARGUMENT);
    CHECK_STATUS(netcore_udp_request("127.0.0.1", 1, NULL, 0, UINT32_MAX, 0, &data, &len),
                 NETCORE_STATUS_INVALID_ARGUMENT);
    char msg[128];
    netcore_last_error_message(msg, sizeof msg, NULL);
    CHECK(strstr(msg, "finite timeout") != NULL);
    netcore_client_free(NULL);
    netcore_bytes_free(NULL, 0);
    CHECK(c == NULL && reply == NULL && list == NULL && data == NULL);
}

int main(void) {
    struct listener lines, messages;
    pthread_t t1, t2;
    uint16_t line_port = start_tcp(&lines, LINE, &t1);
    uint16_t message_port = start_tcp(&messages, MESSAGE, &t2);
    test_request_and_pipeline(line_port);
    test_failures(line_port);
    test_messages(message_port);
    test_udp();
    test_unix();
    test_null_arguments();
    stop(&lines, t1);
    stop(&messages, t2);
    return check_done("test_client");
}
