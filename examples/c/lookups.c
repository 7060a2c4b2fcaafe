/* Seed 003's look-ups from C: service ports, a host's addresses, its fully qualified name.
 * Build:  cc lookups.c $(pkg-config --cflags --libs netcore) -o lookups
 * Run:    ./lookups [HOST...]        (default: localhost) */
#include <stdio.h>
#include <netcore.h>

static int fail(const char *what) {
    char msg[256];
    netcore_last_error_message(msg, sizeof msg, NULL);
    fprintf(stderr, "%s failed: %s\n", what, msg);
    return 1;
}

int main(int argc, char **argv) {
    static const char *const services[][2] = {{"http", "tcp"}, {"smtp", "tcp"}};
    for (size_t i = 0; i < sizeof services / sizeof services[0]; i++) {
        uint16_t port;
        if (netcore_getservbyname(services[i][0], services[i][1], &port) != NETCORE_STATUS_OK)
            return fail("getservbyname");
        printf("getservbyname('%s', '%s') -> %u\n", services[i][0], services[i][1], port);
    }

    int status = 0;
    const char *fallback[] = {"localhost"};
    const char **hosts = argc > 1 ? (const char **)argv + 1 : fallback;
    int count = argc > 1 ? argc - 1 : 1;
    for (int i = 0; i < count; i++) {
        char *address = NULL, *fqdn = NULL;
        if (netcore_gethostbyname(hosts[i], &address) != NETCORE_STATUS_OK) {
            char msg[256];
            netcore_last_error_message(msg, sizeof msg, NULL);
            printf("gethostbyname('%s') failed: %s\n", hosts[i], msg);
            status = 1;
            continue;
        }
        printf("gethostbyname('%s') -> '%s'\n", hosts[i], address);
        if (netcore_getfqdn(address, 2000, &fqdn) == NETCORE_STATUS_OK)
            printf("getfqdn('%s') -> '%s'\n", address, fqdn);
        netcore_string_free(fqdn);
        netcore_string_free(address);
    }
    return status;
}
