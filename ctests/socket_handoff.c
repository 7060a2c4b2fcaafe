/* The C half of python/tests/test_socket_handoff.py: connects to the Unix socket in argv[1],
 * receives a connection from the Python program (netcore_socket_recv_fds), writes a line on
 * it, and hands it back the same way (netcore_socket_send_fds). Exits 0 on success. */
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include "netcore.h"

static int fail(const char *what) {
    char msg[256];
    netcore_last_error_message(msg, sizeof msg, NULL);
    fprintf(stderr, "socket_handoff: %s: %s\n", what, msg);
    return 1;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: socket_handoff UNIX-SOCKET-PATH\n");
        return 2;
    }
    int unix_sock = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    strncpy(addr.sun_path, argv[1], sizeof addr.sun_path - 1);
    if (unix_sock < 0 || connect(unix_sock, (struct sockaddr *)&addr, sizeof addr) != 0) {
        perror("socket_handoff: connect");
        return 1;
    }
    uint8_t note[16];
    int conn = -1;
    size_t n = 0, nfds = 0;
    if (netcore_socket_recv_fds(unix_sock, note, sizeof note, &conn, 1, &n, &nfds) != NETCORE_STATUS_OK)
        return fail("recv_fds");
    if (nfds != 1) {
        fprintf(stderr, "socket_handoff: got %zu descriptors\n", nfds);
        return 1;
    }
    const char line[] = "from C\n";
    if (write(conn, line, sizeof line - 1) != (ssize_t)(sizeof line - 1)) {
        perror("socket_handoff: write");
        return 1;
    }
    size_t sent = 0;
    if (netcore_socket_send_fds(unix_sock, (const uint8_t *)"back", 4, &conn, 1, &sent) != NETCORE_STATUS_OK)
        return fail("send_fds");
    close(conn);
    close(unix_sock);
    return 0;
}
