/* The resolver from C: results, every error status, NULL arguments, ownership. */
#include <stdlib.h>
#include <string.h>
#include <netdb.h>
#include <sys/socket.h>
#include "check.h"

static void test_version(void) {
    CHECK_STR(netcore_version(), NETCORE_VERSION);
}

static void test_services(void) {
    uint16_t port = 0;
    CHECK_OK(netcore_getservbyname("http", "tcp", &port));
    CHECK(port == 80);
    CHECK_OK(netcore_getservbyname("smtp", "tcp", &port));
    CHECK(port == 25);
    CHECK_OK(netcore_getservbyname("www", NULL, &port)); /* alias, any protocol */
    CHECK(port == 80);

    port = 1234;
    CHECK_STATUS(netcore_getservbyname("no-such-service", "tcp", &port), NETCORE_STATUS_SERVICE_NOT_FOUND);
    CHECK(port == 1234); /* out-parameters are written only on success */
    char msg[128];
    CHECK_OK(netcore_last_error_message(msg, sizeof msg, NULL));
    CHECK_STR(msg, "service/proto not found");
    CHECK(netcore_last_error_status() == NETCORE_STATUS_SERVICE_NOT_FOUND);

    char *name = NULL;
    CHECK_OK(netcore_getservbyport(25, "tcp", &name));
    CHECK_STR(name, "smtp");
    netcore_string_free(name);
    name = NULL;
    CHECK_STATUS(netcore_getservbyport(70000, NULL, &name), NETCORE_STATUS_OVERFLOW);
    CHECK_STATUS(netcore_getservbyport(-1, NULL, &name), NETCORE_STATUS_OVERFLOW);
    CHECK_STATUS(netcore_getservbyport(9999, "udp", &name), NETCORE_STATUS_PORT_NOT_FOUND);
    CHECK(name == NULL);

    /* Without /etc/services the embedded table answers. */
    setenv("NETCORE_SERVICES_FILE", "/nonexistent/services", 1);
    CHECK_OK(netcore_getservbyname("http", "tcp", &port));
    CHECK(port == 80);
    CHECK_OK(netcore_getservbyname("gopher", NULL, &port));
    CHECK(port == 70);
    unsetenv("NETCORE_SERVICES_FILE");
}

static void test_null_and_bad_arguments(void) {
    uint16_t port = 0;
    char *s = NULL;
    CHECK_STATUS(netcore_getservbyname(NULL, "tcp", &port), NETCORE_STATUS_NULL_ARGUMENT);
    char msg[128];
    netcore_last_error_message(msg, sizeof msg, NULL);
    CHECK_STR(msg, "argument `name` is NULL");
    CHECK_STATUS(netcore_getservbyname("http", "tcp", NULL), NETCORE_STATUS_NULL_ARGUMENT);
    CHECK_STATUS(netcore_gethostbyname(NULL, &s), NETCORE_STATUS_NULL_ARGUMENT);
    CHECK_STATUS(netcore_gethostbyname("localhost", NULL), NETCORE_STATUS_NULL_ARGUMENT);
    CHECK_STATUS(netcore_getaddrinfo("localhost", NULL, 0, 0, 0, 0, NULL), NETCORE_STATUS_NULL_ARGUMENT);
    CHECK_STATUS(netcore_gethostname(NULL), NETCORE_STATUS_NULL_ARGUMENT);
    CHECK_STATUS(netcore_last_error_message(NULL, 10, NULL), NETCORE_STATUS_NULL_ARGUMENT);
    CHECK_STATUS(netcore_string_list_get(NULL, 0, NULL), NETCORE_STATUS_NULL_ARGUMENT);
    CHECK(netcore_string_list_len(NULL) == 0);
    CHECK(netcore_addrinfo_list_len(NULL) == 0);
    /* Invalid UTF-8 is refused, not guessed at. */
    CHECK_STATUS(netcore_gethostbyname("\xff\xfe", &s), NETCORE_STATUS_INVALID_UTF8);
    CHECK(s == NULL);
    /* Freeing NULL does nothing. */
    netcore_string_free(NULL);
    netcore_string_list_free(NULL);
    netcore_addrinfo_list_free(NULL);
}

static void test_hosts(void) {
    char *addr = NULL;
    CHECK_OK(netcore_gethostbyname("localhost", &addr));
    CHECK_STR(addr, "127.0.0.1");
    netcore_string_free(addr);
    CHECK_OK(netcore_gethostbyname("", &addr));
    CHECK_STR(addr, "0.0.0.0");
    netcore_string_free(addr);

    addr = NULL;
    CHECK_STATUS(netcore_gethostbyname("no-such-host.invalid", &addr), NETCORE_STATUS_ADDRESS_INFO);
    CHECK(addr == NULL);
    CHECK(netcore_last_error_code() == EAI_NONAME);
    char msg[128];
    CHECK_OK(netcore_last_error_message(msg, sizeof msg, NULL));
    CHECK(strstr(msg, "Name or service not known") != NULL);

    char *name = NULL;
    netcore_string_list *aliases = NULL, *addrs = NULL;
    CHECK_OK(netcore_gethostbyname_ex("localhost", &name, &aliases, &addrs));
    CHECK_STR(name, "localhost");
    CHECK(netcore_string_list_len(addrs) >= 1);
    const char *first = NULL;
    CHECK_OK(netcore_string_list_get(addrs, 0, &first));
    CHECK_STR(first, "127.0.0.1");
    CHECK_STATUS(netcore_string_list_get(addrs, 99, &first), NETCORE_STATUS_OUT_OF_RANGE);
    netcore_string_free(name);
    netcore_string_list_free(aliases);
    netcore_string_list_free(addrs);

    CHECK_STATUS(netcore_gethostbyname_ex("localhost", &name, NULL, &addrs), NETCORE_STATUS_NULL_ARGUMENT);

    char *host = NULL;
    CHECK_OK(netcore_gethostname(&host));
    CHECK(host != NULL && host[0] != '\0');
    char *fqdn = NULL;
    CHECK_OK(netcore_getfqdn(NULL, 500, &fqdn));
    CHECK(fqdn != NULL && fqdn[0] != '\0');
    netcore_string_free(host);
    netcore_string_free(fqdn);
}

static void test_addrinfo(void) {
    netcore_addrinfo_list *list = NULL;
    CHECK_OK(netcore_getaddrinfo("127.0.0.1", "http", AF_INET, SOCK_STREAM, 0, 0, &list));
    CHECK(netcore_addrinfo_list_len(list) == 1);
    netcore_addrinfo info;
    CHECK_OK(netcore_addrinfo_list_get(list, 0, &info));
    CHECK(info.family == AF_INET);
    CHECK(info.socktype == SOCK_STREAM);
    CHECK(info.port == 80);
    CHECK_STR(info.address, "127.0.0.1");
    CHECK_STATUS(netcore_addrinfo_list_get(list, 1, &info), NETCORE_STATUS_OUT_OF_RANGE);
    netcore_addrinfo_list_free(list);

    list = NULL;
    CHECK_OK(netcore_getaddrinfo("::1", "8080", AF_INET6, SOCK_DGRAM, 0, 0, &list));
    CHECK_OK(netcore_addrinfo_list_get(list, 0, &info));
    CHECK_STR(info.address, "::1");
    CHECK(info.port == 8080);
    netcore_addrinfo_list_free(list);

    list = NULL;
    CHECK_STATUS(netcore_getaddrinfo(NULL, NULL, 0, 0, 0, 0, &list), NETCORE_STATUS_ADDRESS_INFO);
    CHECK(list == NULL);

    char *h = NULL, *s = NULL;
    CHECK_OK(netcore_getnameinfo("127.0.0.1", 80, 0, 0, NI_NUMERICHOST | NI_NUMERICSERV, &h, &s));
    CHECK_STR(h, "127.0.0.1");
    CHECK_STR(s, "80");
    netcore_string_free(h);
    netcore_string_free(s);
    CHECK_STATUS(netcore_getnameinfo("::1", 80, 0x100000, 0, 0, &h, &s), NETCORE_STATUS_OVERFLOW);
}

static void test_messages(void) {
    char buf[16];
    size_t needed = 0;
    CHECK_STATUS(netcore_status_message(NETCORE_STATUS_TIMEOUT, buf, sizeof buf, &needed), NETCORE_STATUS_OK);
    CHECK_STR(buf, "timed out");
    CHECK(needed == strlen("timed out"));
    /* Too small: truncated, NUL-terminated, full length reported. */
    char tiny[4];
    CHECK_STATUS(netcore_status_message(NETCORE_STATUS_NULL_ARGUMENT, tiny, sizeof tiny, &needed),
                 NETCORE_STATUS_BUFFER_TOO_SMALL);
    CHECK_STR(tiny, "a r");
    CHECK(needed > sizeof tiny);
    /* A code netcore does not define (any uint32_t may arrive from C) gets its own text. */
    char other[64];
    CHECK_STATUS(netcore_status_message(12345, other, sizeof other, &needed), NETCORE_STATUS_OK);
    CHECK_STR(other, "unknown status code 12345");
    CHECK_STATUS(netcore_status_message(UINT32_MAX, other, sizeof other, NULL), NETCORE_STATUS_OK);
    CHECK_STR(other, "unknown status code 4294967295");
}

int main(void) {
    test_version();
    test_services();
    test_null_and_bad_arguments();
    test_hosts();
    test_addrinfo();
    test_messages();
    return check_done("test_resolve");
}
