/* TLS from C: a TLS server (netcore_server_config_tls) and client (netcore_client_new_tls)
 * with certificates made at test time by scripts/make-test-certs; mutual TLS with the
 * client's subject reaching a callback; certificate failures as TLS_CERTIFICATE with
 * OpenSSL's verify code; bad files refused at start naming the file; reload; NULLs. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "check.h"

static char pki[64];

static const char *file(const char *name) {
    static char paths[8][128];
    static int next = 0;
    char *p = paths[next++ % 8];
    snprintf(p, 128, "%s/%s", pki, name);
    return p;
}

static uint16_t port_of(const netcore_server *srv) {
    uint16_t port = 0;
    netcore_transport t;
    CHECK_OK(netcore_server_port(srv, 0, &port, &t));
    return port;
}

/* "whoami": the transport and the client certificate's subject. */
static int cb_whoami(void *userdata, const netcore_request *req, netcore_reply *reply) {
    (void)userdata;
    char text[256];
    snprintf(text, sizeof text, "%s %s", req->transport == NETCORE_TRANSPORT_TLS ? "tls" : "other",
             req->peer_cert ? req->peer_cert : "-");
    return netcore_reply_write(reply, (const uint8_t *)text, strlen(text)) == NETCORE_STATUS_OK ? 0 : 1;
}

static netcore_server *start(const char *cert, const char *key, const char *client_ca) {
    netcore_server_config *cfg = NULL;
    netcore_server *srv = NULL;
    CHECK_OK(netcore_server_config_new("command", &cfg));
    CHECK_OK(netcore_server_config_listen_tcp(cfg, "127.0.0.1:0"));
    CHECK_OK(netcore_server_config_tls(cfg, cert, key, client_ca));
    CHECK_OK(netcore_server_config_add_command(cfg, "whoami", cb_whoami, NULL, NULL));
    CHECK_OK(netcore_server_start(cfg, &srv));
    netcore_server_config_free(cfg);
    return srv;
}

static void test_client_and_server(void) {
    netcore_server *srv = start(file("server.pem"), file("server.key"), NULL);
    if (!srv) return;
    netcore_tls_options opts = {file("ca.pem"), NULL, NULL, NULL, "localhost"};
    netcore_client *c = NULL;
    CHECK_OK(netcore_client_new_tls("127.0.0.1", port_of(srv), 5000, &opts, &c));
    char *reply = NULL;
    CHECK_OK(netcore_client_request(c, "whoami", &reply));
    CHECK_STR(reply, "tls -");
    netcore_string_free(reply);
    netcore_client_free(c);

    /* A CA the client does not trust: verify code 20; a wrong name: 62. */
    netcore_tls_options rogue = {file("rogue-ca.pem"), NULL, NULL, NULL, NULL};
    c = NULL;
    CHECK_STATUS(netcore_client_new_tls("127.0.0.1", port_of(srv), 5000, &rogue, &c), NETCORE_STATUS_TLS_CERTIFICATE);
    CHECK(netcore_last_error_code() == 20 && c == NULL);
    netcore_tls_options other = {file("ca.pem"), NULL, NULL, NULL, "other.example"};
    CHECK_STATUS(netcore_client_new_tls("127.0.0.1", port_of(srv), 5000, &other, &c), NETCORE_STATUS_TLS_CERTIFICATE);
    CHECK(netcore_last_error_code() == 62);
    char msg[256];
    netcore_last_error_message(msg, sizeof msg, NULL);
    CHECK(strstr(msg, "Hostname mismatch") != NULL);

    netcore_server_stats st;
    CHECK_OK(netcore_server_get_stats(srv, &st));
    CHECK(st.handshakes >= 1);
    CHECK_OK(netcore_server_reload_tls(srv));
    CHECK_STATUS(netcore_server_reload_tls(NULL), NETCORE_STATUS_NULL_ARGUMENT);
    netcore_server_free(srv);
}

static void test_mutual_tls(void) {
    netcore_server *srv = start(file("server.pem"), file("server.key"), file("ca.pem"));
    if (!srv) return;
    netcore_tls_options alice = {file("ca.pem"), NULL, file("client.pem"), file("client.key"), "localhost"};
    netcore_client *c = NULL;
    CHECK_OK(netcore_client_new_tls("127.0.0.1", port_of(srv), 5000, &alice, &c));
    char *reply = NULL;
    CHECK_OK(netcore_client_request(c, "whoami", &reply));
    CHECK_STR(reply, "tls CN=alice, O=netcore tests");
    netcore_string_free(reply);
    netcore_client_free(c);
    /* Without a certificate the server refuses; TLS 1.3 clients learn it at the first read. */
    netcore_tls_options none = {file("ca.pem"), NULL, NULL, NULL, "localhost"};
    c = NULL;
    netcore_status st = netcore_client_new_tls("127.0.0.1", port_of(srv), 5000, &none, &c);
    if (st == NETCORE_STATUS_OK) {
        CHECK_STATUS(netcore_client_request(c, "whoami", &reply), NETCORE_STATUS_TLS);
        netcore_client_free(c);
    } else {
        CHECK(st == NETCORE_STATUS_TLS);
    }
    netcore_server_free(srv);
}

static void test_bad_files_and_nulls(void) {
    netcore_server_config *cfg = NULL;
    netcore_server *srv = NULL;
    CHECK_OK(netcore_server_config_new("echo", &cfg));
    CHECK_OK(netcore_server_config_listen_tcp(cfg, "127.0.0.1:0"));
    CHECK_STATUS(netcore_server_config_tls(cfg, NULL, file("server.key"), NULL), NETCORE_STATUS_NULL_ARGUMENT);
    CHECK_STATUS(netcore_server_config_tls(NULL, file("server.pem"), file("server.key"), NULL),
                 NETCORE_STATUS_NULL_ARGUMENT);
    CHECK_OK(netcore_server_config_tls(cfg, file("server.pem"), file("missing.key"), NULL));
    CHECK_STATUS(netcore_server_start(cfg, &srv), NETCORE_STATUS_INVALID_ARGUMENT);
    char msg[512];
    netcore_last_error_message(msg, sizeof msg, NULL);
    CHECK(strstr(msg, "missing.key") != NULL);
    CHECK_OK(netcore_server_config_tls(cfg, file("server.pem"), file("other.key"), NULL));
    CHECK_STATUS(netcore_server_start(cfg, &srv), NETCORE_STATUS_INVALID_ARGUMENT);
    netcore_last_error_message(msg, sizeof msg, NULL);
    CHECK(strstr(msg, "does not match") != NULL);
    netcore_server_config_free(cfg);

    netcore_client *c = NULL;
    CHECK_STATUS(netcore_client_new_tls(NULL, 1, 0, NULL, &c), NETCORE_STATUS_NULL_ARGUMENT);
    CHECK_STATUS(netcore_client_new_tls("127.0.0.1", 1, 0, NULL, NULL), NETCORE_STATUS_NULL_ARGUMENT);
}

int main(void) {
    snprintf(pki, sizeof pki, "/tmp/netcore-ctls-%ld", (long)getpid());
    char cmd[256];
    snprintf(cmd, sizeof cmd, "scripts/make-test-certs %s", pki);
    if (system(cmd) != 0) {
        fprintf(stderr, "test_tls: scripts/make-test-certs failed\n");
        return 1;
    }
    test_client_and_server();
    test_mutual_tls();
    test_bad_files_and_nulls();
    snprintf(cmd, sizeof cmd, "rm -rf %s", pki);
    if (system(cmd) != 0) fprintf(stderr, "test_tls: could not remove %s\n", pki);
    return check_done("test_tls");
}
