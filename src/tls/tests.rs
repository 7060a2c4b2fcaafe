//! Certificates made at test time: a CA, leaves it signs (valid, expired, another name), a
//! client certificate, and a second CA nobody trusts.

use std::path::{Path, PathBuf};

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};

use super::*;

/// A directory of PEM files: `ca.pem`, `server.pem`/`server.key` (localhost, 127.0.0.1),
/// `expired.pem`/`.key`, `other.pem`/`.key` (other.example), `client.pem`/`.key`
/// (CN=alice), and `rogue-ca.pem` with `rogue-client.pem`/`.key` signed by it.
pub(crate) struct Pki {
    pub dir: tempfile::TempDir,
}

impl Pki {
    pub fn new() -> Pki {
        let dir = tempfile::tempdir().unwrap();
        let ca = make_ca(dir.path(), "ca", "netcore test CA");
        leaf(dir.path(), &ca, "server", &["localhost", "127.0.0.1"], "localhost", false);
        leaf(dir.path(), &ca, "expired", &["localhost", "127.0.0.1"], "localhost", true);
        leaf(dir.path(), &ca, "other", &["other.example"], "other.example", false);
        leaf(dir.path(), &ca, "client", &[], "alice", false);
        let rogue = make_ca(dir.path(), "rogue-ca", "some other CA");
        leaf(dir.path(), &rogue, "rogue-client", &[], "mallory", false);
        Pki { dir }
    }
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
    pub fn server_tls(&self, name: &str) -> ServerTls {
        ServerTls::new(self.path(&format!("{name}.pem")), self.path(&format!("{name}.key")))
    }
    pub fn client_tls(&self) -> ClientTls {
        ClientTls { cafile: Some(self.path("ca.pem")), ..ClientTls::default() }
    }
}

fn make_ca(dir: &Path, file: &str, cn: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, cn);
    let ca = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
    std::fs::write(dir.join(format!("{file}.pem")), ca.pem()).unwrap();
    ca
}

fn leaf(dir: &Path, ca: &CertifiedIssuer<'static, KeyPair>, file: &str, names: &[&str], cn: &str, expired: bool) {
    let mut params = CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
    params.distinguished_name.push(DnType::CommonName, cn);
    params.distinguished_name.push(DnType::OrganizationName, "netcore tests");
    if expired {
        params.not_before = rcgen::date_time_ymd(2020, 1, 1);
        params.not_after = rcgen::date_time_ymd(2021, 1, 1);
    }
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, ca).unwrap();
    std::fs::write(dir.join(format!("{file}.pem")), cert.pem()).unwrap();
    std::fs::write(dir.join(format!("{file}.key")), key.serialize_pem()).unwrap();
}

fn message(r: crate::Result<impl Sized>) -> String {
    match r {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn server_config_loads_and_mtls_needs_a_ca_file() {
    let pki = Pki::new();
    pki.server_tls("server").load().unwrap();
    pki.server_tls("server").client_ca(pki.path("ca.pem")).load().unwrap();
    let e = message(pki.server_tls("server").client_ca(pki.path("nope.pem")).load());
    assert!(e.contains("nope.pem"), "{e}");
}

#[test]
fn bad_files_are_refused_naming_the_file() {
    let pki = Pki::new();
    let missing = ServerTls::new(pki.path("server.pem"), pki.path("missing.key"));
    let e = message(missing.load());
    assert!(e.contains("cannot read key file") && e.contains("missing.key") && e.contains("No such file"), "{e}");

    let mismatched = ServerTls::new(pki.path("server.pem"), pki.path("other.key"));
    let e = message(mismatched.load());
    assert!(e.contains("other.key") && e.contains("does not match"), "{e}");

    std::fs::write(pki.path("empty.pem"), "just text\n").unwrap();
    let no_cert = ServerTls::new(pki.path("empty.pem"), pki.path("server.key"));
    let e = message(no_cert.load());
    assert!(e.contains("empty.pem") && e.contains("no certificate"), "{e}");

    // A certificate given as the key.
    let cert_as_key = ServerTls::new(pki.path("server.pem"), pki.path("server.pem"));
    let e = message(cert_as_key.load());
    assert!(e.contains("no private key"), "{e}");

    std::fs::write(pki.path("broken.pem"), "-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\n").unwrap();
    let broken = ServerTls::new(pki.path("broken.pem"), pki.path("server.key"));
    let e = message(broken.load());
    assert!(e.contains("broken.pem") && e.contains("not valid PEM"), "{e}");
}

#[test]
fn the_three_options_go_together() {
    let p = |s: &str| Some(PathBuf::from(s));
    assert_eq!(ServerTls::from_options(None, None, None).unwrap(), None);
    let tls = ServerTls::from_options(p("c.pem"), p("k.pem"), p("ca.pem")).unwrap().unwrap();
    assert_eq!(tls.client_ca, p("ca.pem"));
    for (cert, key, ca, text) in [
        (p("c"), None, None, "tls_cert needs tls_key"),
        (None, p("k"), None, "tls_key needs tls_cert"),
        (None, None, p("ca"), "tls_client_ca needs"),
    ] {
        let e = ServerTls::from_options(cert, key, ca).unwrap_err().to_string();
        assert!(e.contains(text), "{e}");
    }
}

#[test]
fn reload_keeps_the_old_config_on_error() {
    let pki = Pki::new();
    let files = ServerTls::new(pki.path("live.pem"), pki.path("live.key"));
    std::fs::copy(pki.path("server.pem"), pki.path("live.pem")).unwrap();
    std::fs::copy(pki.path("server.key"), pki.path("live.key")).unwrap();
    let holder = ReloadableTls::new(files).unwrap();
    let before = holder.current();
    std::fs::write(pki.path("live.key"), "garbage").unwrap();
    assert!(holder.reload().is_err());
    assert!(Arc::ptr_eq(&before, &holder.current()));
    std::fs::copy(pki.path("other.pem"), pki.path("live.pem")).unwrap();
    std::fs::copy(pki.path("other.key"), pki.path("live.key")).unwrap();
    holder.reload().unwrap();
    assert!(!Arc::ptr_eq(&before, &holder.current()));
}

#[test]
fn client_config_checks_its_files() {
    let pki = Pki::new();
    pki.client_tls().load().unwrap();
    ClientTls::default().load().unwrap(); // the system store
    let with_cert =
        ClientTls { cert: Some(pki.path("client.pem")), key: Some(pki.path("client.key")), ..pki.client_tls() };
    with_cert.load().unwrap();
    let e = message(ClientTls { cafile: Some(pki.path("none.pem")), ..ClientTls::default() }.load());
    assert!(e.contains("none.pem"), "{e}");
    let e = message(ClientTls { key: Some(pki.path("client.key")), ..ClientTls::default() }.load());
    assert!(e.contains("certfile"), "{e}");
    let capath = ClientTls { capath: Some(pki.dir.path().to_path_buf()), ..ClientTls::default() };
    capath.load().unwrap();
    assert!(pki.client_tls().server_name("[::1]").is_ok());
    assert!(pki.client_tls().server_name("bad name!").is_err());
}
