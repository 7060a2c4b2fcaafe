/* Seed 002's clients from C: the TCP client reads the greeting, sends client1..3 (each
 * answered with `Hello, <msg>!`) and then `exit`; with --udp, the UDP client sends client1 and
 * client2 as datagrams and prints each `Hello, <data>`. Output as in the seed's transcripts.
 *
 * The seed's servers answer with bare send()s and no line ending, so the TCP client uses
 * message framing (netcore_client_receive / netcore_client_message: a reply ends when the
 * server has been quiet for 200 ms).
 *
 * Build:  cc greeting_client.c $(pkg-config --cflags --libs netcore) -o greeting_client
 * Run:    ./greeting_client [PORT]          against seed 002's TCP server (port 8000)
 *         ./greeting_client --udp [PORT]    against its UDP server (port 9000)
 * A server for both: netcore serve --service greet --framing message --listen 127.0.0.1:8000 --udp 127.0.0.1:9000 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netcore.h>

static int fail(const char *what) {
    char msg[512];
    netcore_last_error_message(msg, sizeof msg, NULL);
    fprintf(stderr, "greeting_client: %s: %s\n", what, msg);
    return 1;
}

static int tcp_client(uint16_t port) {
    netcore_client *c;
    if (netcore_client_new("127.0.0.1", port, 10000, &c) != NETCORE_STATUS_OK) return fail("connect");
    uint8_t *data;
    size_t len;
    if (netcore_client_receive(c, &data, &len) != NETCORE_STATUS_OK) {
        netcore_client_free(c);
        return fail("greeting");
    }
    printf("接收到的服务端数据:%.*s\n", (int)len, (const char *)data);
    netcore_bytes_free(data, len);
    static const char *const messages[] = {"client1", "client2", "client3"};
    for (size_t i = 0; i < 3; i++) {
        if (netcore_client_message(c, (const uint8_t *)messages[i], strlen(messages[i]), &data, &len) !=
            NETCORE_STATUS_OK) {
            netcore_client_free(c);
            return fail(messages[i]);
        }
        printf("服务端又返回来的数据:%.*s \n", (int)len, (const char *)data);
        netcore_bytes_free(data, len);
    }
    netcore_status status = netcore_client_send(c, (const uint8_t *)"exit", 4);
    netcore_client_free(c); /* closes the connection */
    return status == NETCORE_STATUS_OK ? 0 : fail("exit");
}

static int udp_client(uint16_t port) {
    static const char *const messages[] = {"client1", "client2"};
    for (size_t i = 0; i < 2; i++) {
        uint8_t *data;
        size_t len;
        if (netcore_udp_request("127.0.0.1", port, (const uint8_t *)messages[i], strlen(messages[i]), 2000, 2,
                                &data, &len) != NETCORE_STATUS_OK)
            return fail(messages[i]);
        printf("Received %.*s\n", (int)len, (const char *)data);
        netcore_bytes_free(data, len);
    }
    return 0;
}

int main(int argc, char **argv) {
    int udp = argc > 1 && strcmp(argv[1], "--udp") == 0;
    long port = udp ? 9000 : 8000;
    if (argc > 1 + udp) {
        char *end;
        errno = 0;
        port = strtol(argv[1 + udp], &end, 10);
        if (errno || *end || end == argv[1 + udp] || port < 1 || port > 65535 || argc > 2 + udp) {
            fprintf(stderr, "usage: greeting_client [--udp] [PORT]   (PORT 1-65535)\n");
            return 2;
        }
    }
    int rc = udp ? udp_client((uint16_t)port) : tcp_client((uint16_t)port);
    fflush(stdout);
    return rc;
}
