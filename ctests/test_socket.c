/* Descriptor passing from C: netcore_socket_send_fds / netcore_socket_recv_fds over a Unix
 * socket pair, truncation to max_fds, NULL arguments and bad descriptors. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "check.h"

static int is_open(int fd) { return fcntl(fd, F_GETFD) != -1; }

static void test_pipe_passes_through(void) {
    int sv[2], p[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    CHECK(pipe(p) == 0);
    size_t sent = 0;
    CHECK_OK(netcore_socket_send_fds(sv[0], (const uint8_t *)"hi", 2, &p[1], 1, &sent));
    CHECK(sent == 2);

    uint8_t buf[8];
    int fds[4] = {-1, -1, -1, -1};
    size_t n = 0, nfds = 0;
    CHECK_OK(netcore_socket_recv_fds(sv[1], buf, sizeof buf, fds, 4, &n, &nfds));
    CHECK(n == 2 && memcmp(buf, "hi", 2) == 0);
    CHECK(nfds == 1 && fds[0] >= 0 && fds[0] != p[1]);
    CHECK((fcntl(fds[0], F_GETFD) & FD_CLOEXEC) != 0); /* received close-on-exec */
    /* The received descriptor is the pipe's write end: what goes in comes out of p[0]. */
    CHECK(write(fds[0], "x", 1) == 1);
    char c = 0;
    CHECK(read(p[0], &c, 1) == 1 && c == 'x');
    close(fds[0]);
    CHECK(is_open(sv[0]) && is_open(sv[1])); /* the sockets stay the caller's */
    close(p[0]);
    close(p[1]);
    close(sv[0]);
    close(sv[1]);
}

static void test_more_fds_than_room(void) {
    int sv[2], p[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    CHECK(pipe(p) == 0);
    int three[3] = {p[0], p[0], p[1]};
    size_t sent = 0;
    CHECK_OK(netcore_socket_send_fds(sv[0], (const uint8_t *)"z", 1, three, 3, &sent));
    uint8_t buf[4] = {0};
    int fds[1] = {-1};
    size_t n = 0, nfds = 0;
    CHECK_OK(netcore_socket_recv_fds(sv[1], buf, sizeof buf, fds, 1, &n, &nfds));
    CHECK(n == 1 && nfds == 1 && is_open(fds[0]));
    close(fds[0]);
    /* A message without descriptors, and no room for any. */
    CHECK_OK(netcore_socket_send_fds(sv[0], (const uint8_t *)"q", 1, NULL, 0, &sent));
    CHECK_OK(netcore_socket_recv_fds(sv[1], buf, sizeof buf, NULL, 0, &n, &nfds));
    CHECK(n == 1 && buf[0] == 'q' && nfds == 0);
    /* End of stream: zero bytes. */
    close(sv[0]);
    CHECK_OK(netcore_socket_recv_fds(sv[1], buf, sizeof buf, fds, 1, &n, &nfds));
    CHECK(n == 0 && nfds == 0);
    close(sv[1]);
    close(p[0]);
    close(p[1]);
}

static void test_bad_arguments(void) {
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    size_t sent = 77, n = 77, nfds = 77;
    int fd = sv[0];
    uint8_t buf[4] = {0};
    CHECK_STATUS(netcore_socket_send_fds(sv[0], NULL, 1, &fd, 1, &sent), NETCORE_STATUS_NULL_ARGUMENT);
    CHECK_STATUS(netcore_socket_send_fds(sv[0], buf, 1, NULL, 1, &sent), NETCORE_STATUS_NULL_ARGUMENT);
    CHECK_STATUS(netcore_socket_send_fds(sv[0], buf, 1, &fd, 1, NULL), NETCORE_STATUS_NULL_ARGUMENT);
    CHECK_STATUS(netcore_socket_recv_fds(sv[1], NULL, 4, &fd, 1, &n, &nfds), NETCORE_STATUS_NULL_ARGUMENT);
    CHECK_STATUS(netcore_socket_recv_fds(sv[1], buf, 4, NULL, 1, &n, &nfds), NETCORE_STATUS_NULL_ARGUMENT);
    CHECK_STATUS(netcore_socket_recv_fds(sv[1], buf, 4, &fd, 1, NULL, &nfds), NETCORE_STATUS_NULL_ARGUMENT);
    CHECK_STATUS(netcore_socket_recv_fds(sv[1], buf, 4, &fd, 1, &n, NULL), NETCORE_STATUS_NULL_ARGUMENT);
    CHECK(sent == 77 && n == 77 && nfds == 77); /* written only on success */

    /* Not a descriptor, not a socket, a bad descriptor to pass: the errno says which. */
    CHECK_STATUS(netcore_socket_send_fds(1000, buf, 1, &fd, 1, &sent), NETCORE_STATUS_OS_ERROR);
    CHECK(netcore_last_error_code() == EBADF);
    int p[2];
    CHECK(pipe(p) == 0);
    CHECK_STATUS(netcore_socket_recv_fds(p[0], buf, 4, &fd, 1, &n, &nfds), NETCORE_STATUS_OS_ERROR);
    CHECK(netcore_last_error_code() == ENOTSOCK);
    int bad = 1000;
    CHECK_STATUS(netcore_socket_send_fds(sv[0], buf, 1, &bad, 1, &sent), NETCORE_STATUS_OS_ERROR);
    CHECK(netcore_last_error_code() == EBADF);
    CHECK(sent == 77);
    CHECK(is_open(p[0]) && is_open(sv[0]));
    close(p[0]);
    close(p[1]);
    close(sv[0]);
    close(sv[1]);
}

int main(void) {
    test_pipe_passes_through();
    test_more_fds_than_room();
    test_bad_arguments();
    return check_done("test_socket");
}
