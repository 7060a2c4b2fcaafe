/* Deployment options from C (docs/deploy.md): SO_REUSEPORT, the PROXY protocol (v2 and v1,
 * spoofing refused without it), passed descriptors, metrics, bad arguments. Loopback only. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
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

/* A port nothing listens on now. */
static uint16_t free_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    bind(fd, (struct sockaddr *)&a, sizeof a);
    getsockname(fd, (struct sockaddr *)&a, &len);
    close(fd);
    return ntohs(a.sin_port);
}

/* Sends `len` bytes, then reads one reply line (without its newline) into `out`. */
static void exchange(uint16_t port, const char *data, size_t len, char *out, size_t cap) {
    out[0] = 0;
    int fd = tcp_connect(port);
    if (fd < 0) return;
    send(fd, data, len, MSG_NOSIGNAL);
    size_t n = 0;
    while (n + 1 < cap) {
        ssize_t got = recv(fd, out + n, 1, 0);
        if (got <= 0 || out[n] == '\n') break;
        n++;
    }
    out[n] = 0;
    close(fd);
}

/* A command that answers the peer the engine saw. */
static int whoami(void *userdata, const struct netcore_request *request, struct netcore_reply *reply) {
    (void)userdata;
    return netcore_reply_write(reply, (const uint8_t *)request->peer, strlen(request->peer)) == NETCORE_STATUS_OK
               ? 0
               : 1;
}

static struct netcore_server *start(struct netcore_server_config *config) {
    struct netcore_server *server = NULL;
    CHECK_OK(netcore_server_config_add_command(config, "whoami", whoami, NULL, NULL));
    CHECK_OK(netcore_server_start(config, &server));
    netcore_server_config_free(config);
    return server;
}

static uint16_t port_of(struct netcore_server *server) {
    uint16_t port = 0;
    enum netcore_transport transport;
    CHECK_OK(netcore_server_port(server, 0, &port, &transport));
    return port;
}

static void test_proxy_protocol(void) {
    struct netcore_server_config *config = NULL;
    CHECK_OK(netcore_server_config_new("command", &config));
    CHECK_OK(netcore_server_config_listen_tcp(config, "127.0.0.1:0"));
    CHECK_OK(netcore_server_config_set_proxy_protocol(config, true));
    CHECK_OK(netcore_server_config_set_handshake_timeout_ms(config, 2000));
    CHECK_STATUS(netcore_server_config_set_handshake_timeout_ms(config, 0), NETCORE_STATUS_INVALID_ARGUMENT);
    struct netcore_server *server = start(config);
    uint16_t port = port_of(server);

    /* Version 2, TCP over IPv4, 203.0.113.7:4242 -> 127.0.0.1:21560, then a request. */
    const unsigned char v2[] = {'\r', '\n', '\r', '\n', 0, '\r', '\n', 'Q', 'U', 'I', 'T', '\n', 0x21, 0x11, 0, 12,
                                203, 0, 113, 7, 127, 0, 0, 1, 0x10, 0x92, 0x54, 0x38, 'w', 'h', 'o', 'a', 'm', 'i', '\n'};
    char line[256];
    exchange(port, (const char *)v2, sizeof v2, line, sizeof line);
    CHECK_STR(line, "203.0.113.7:4242");
    const char v1[] = "PROXY TCP4 198.51.100.2 127.0.0.1 5000 21560\r\nwhoami\n";
    exchange(port, v1, strlen(v1), line, sizeof line);
    CHECK_STR(line, "198.51.100.2:5000");
    exchange(port, "whoami\n", 7, line, sizeof line);
    CHECK(strncmp(line, "error: invalid PROXY protocol header", 36) == 0);
    struct netcore_server_stats stats;
    CHECK_OK(netcore_server_get_stats(server, &stats));
    CHECK(stats.handshakes == 2);
    CHECK(stats.handshake_failures == 1);
    CHECK_OK(netcore_server_stop(server, 5000));
    netcore_server_free(server);

    /* Without the option the header is an ordinary line: no spoofing. */
    CHECK_OK(netcore_server_config_new("command", &config));
    CHECK_OK(netcore_server_config_listen_tcp(config, "127.0.0.1:0"));
    server = start(config);
    exchange(port_of(server), (const char *)v2, sizeof v2, line, sizeof line);
    CHECK(strstr(line, "203.0.113.7") == NULL);
    netcore_server_free(server);

    /* One listener with it, one without; listeners are named by address, so two alike are
     * refused. */
    CHECK_OK(netcore_server_config_new("command", &config));
    CHECK_OK(netcore_server_config_listen_tcp(config, "127.0.0.1:0"));
    CHECK_STATUS(netcore_server_config_listen_tcp_proxy(config, "127.0.0.1:0"), NETCORE_STATUS_INVALID_ARGUMENT);
    char proxy_addr[64];
    snprintf(proxy_addr, sizeof proxy_addr, "127.0.0.1:%u", (unsigned)free_port());
    CHECK_OK(netcore_server_config_listen_tcp_proxy(config, proxy_addr));
    server = start(config);
    uint16_t plain = 0, proxied = 0;
    enum netcore_transport transport;
    CHECK_OK(netcore_server_port(server, 0, &plain, &transport));
    CHECK_OK(netcore_server_port(server, 1, &proxied, &transport));
    exchange(plain, "whoami\n", 7, line, sizeof line);
    CHECK(strncmp(line, "127.0.0.1:", 10) == 0);
    exchange(proxied, v1, strlen(v1), line, sizeof line);
    CHECK_STR(line, "198.51.100.2:5000");
    netcore_server_free(server);
}

static void test_reuse_port_and_passed_fds(void) {
    struct netcore_server_config *config = NULL;
    CHECK_OK(netcore_server_config_new("command", &config));
    CHECK_OK(netcore_server_config_listen_tcp(config, "127.0.0.1:0"));
    CHECK_OK(netcore_server_config_set_reuse_port(config, true));
    struct netcore_server *first = start(config);
    uint16_t port = port_of(first);
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%u", (unsigned)port);
    CHECK_OK(netcore_server_config_new("command", &config));
    CHECK_OK(netcore_server_config_listen_tcp(config, addr));
    CHECK_OK(netcore_server_config_set_reuse_port(config, true));
    struct netcore_server *second = start(config);
    char line[64];
    for (int i = 0; i < 40; i++) {
        exchange(port, "ping\n", 5, line, sizeof line);
        CHECK_STR(line, "pong");
    }
    struct netcore_server_stats a, b;
    CHECK_OK(netcore_server_get_stats(first, &a));
    CHECK_OK(netcore_server_get_stats(second, &b));
    CHECK(a.connections_total + b.connections_total == 40);
    netcore_server_free(first);
    netcore_server_free(second);

    /* A socket bound here, served by the engine (which closes it). */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof sa;
    CHECK(bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0 && listen(fd, 16) == 0);
    CHECK(getsockname(fd, (struct sockaddr *)&sa, &len) == 0);
    CHECK_OK(netcore_server_config_new("echo", &config));
    CHECK_OK(netcore_server_config_listen_fd(config, fd));
    CHECK_STATUS(netcore_server_config_listen_fd(config, -1), NETCORE_STATUS_INVALID_ARGUMENT);
    struct netcore_server *server = NULL;
    CHECK_OK(netcore_server_start(config, &server));
    netcore_server_config_free(config);
    exchange(ntohs(sa.sin_port), "passed\n", 7, line, sizeof line);
    CHECK_STR(line, "passed");
    netcore_server_free(server);

    size_t count = 99;
    CHECK_OK(netcore_server_config_new("echo", &config));
    CHECK_OK(netcore_server_config_use_systemd_sockets(config, &count));
    CHECK(count == 0); /* not socket-activated */
    CHECK_STATUS(netcore_server_config_use_systemd_sockets(config, NULL), NETCORE_STATUS_NULL_ARGUMENT);
    netcore_server_config_free(config);
}

static void test_metrics(void) {
    struct netcore_server_config *config = NULL;
    CHECK_OK(netcore_server_config_new("command", &config));
    CHECK_OK(netcore_server_config_listen_tcp(config, "127.0.0.1:0"));
    CHECK_STATUS(netcore_server_config_set_metrics(config, "nowhere"), NETCORE_STATUS_INVALID_ARGUMENT);
    CHECK_OK(netcore_server_config_set_metrics(config, "127.0.0.1:0"));
    struct netcore_server *server = start(config);
    char line[512];
    exchange(port_of(server), "ping\n", 5, line, sizeof line);
    uint16_t mport = 0;
    CHECK_OK(netcore_server_metrics_port(server, &mport));
    const char get[] = "GET /metrics HTTP/1.0\r\n\r\n";
    exchange(mport, get, strlen(get), line, sizeof line);
    CHECK(strncmp(line, "HTTP/1.0 200", 12) == 0);
    char *text = NULL;
    CHECK_OK(netcore_server_metrics_text(server, &text));
    CHECK(text != NULL && strstr(text, "netcore_command_requests_total{command=\"ping\"} 1") != NULL);
    netcore_string_free(text);
    netcore_server_free(server);

    CHECK_OK(netcore_server_config_new("echo", &config));
    server = start(config);
    CHECK_STATUS(netcore_server_metrics_port(server, &mport), NETCORE_STATUS_INVALID_STATE);
    CHECK_STATUS(netcore_server_metrics_text(NULL, &text), NETCORE_STATUS_NULL_ARGUMENT);
    netcore_server_free(server);
}

int main(void) {
    test_proxy_protocol();
    test_reuse_port_and_passed_fds();
    test_metrics();
    return check_done("test_deploy");
}
