// netcore.h must compile as C++ (extern "C", typed enum) with all warnings as errors.
#include <netcore.h>

static_assert(sizeof(netcore_status) == 4, "netcore_status is a 32-bit code");
static_assert(NETCORE_STATUS_OK == 0, "success is zero");

int netcore_cxx_check() {
    uint16_t port = 0;
    return netcore_getservbyname("http", "tcp", &port) == NETCORE_STATUS_OK ? port : -1;
}
