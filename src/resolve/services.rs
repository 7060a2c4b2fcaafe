//! Service name <-> port look-ups over an /etc/services-format database.
//!
//! The system file is read on each call (as libc does); where it cannot be read, an embedded
//! table of well-known services answers instead, so look-ups work in minimal containers.

use crate::error::{Error, Result};

/// The path of the system services database.
pub const SYSTEM_SERVICES: &str = "/etc/services";
/// Environment variable that points look-ups at another services file (tests, sandboxes).
pub const SERVICES_ENV: &str = "NETCORE_SERVICES_FILE";
const FALLBACK: &str = include_str!("services.fallback");

/// One entry of a services database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceEntry {
    pub name: String,
    pub port: u16,
    pub proto: String,
    pub aliases: Vec<String>,
}

/// A parsed services database.
#[derive(Debug, Clone)]
pub struct ServicesDb {
    entries: Vec<ServiceEntry>,
}

impl ServicesDb {
    /// Parses text in /etc/services format; malformed lines are skipped, as libc does.
    pub fn parse(text: &str) -> Self {
        let entries = text.lines().filter_map(parse_line).collect();
        ServicesDb { entries }
    }

    /// The embedded table of well-known services.
    pub fn fallback() -> Self {
        Self::parse(FALLBACK)
    }

    /// Reads `path`, or the embedded table where it cannot be read.
    pub fn load_or_fallback(path: &std::path::Path) -> Self {
        match std::fs::read(path) {
            Ok(bytes) => Self::parse(&String::from_utf8_lossy(&bytes)),
            Err(_) => Self::fallback(),
        }
    }

    /// The database look-ups use: `$NETCORE_SERVICES_FILE`, else /etc/services, else the fallback.
    pub fn system() -> Self {
        let path = std::env::var_os(SERVICES_ENV).unwrap_or_else(|| SYSTEM_SERVICES.into());
        Self::load_or_fallback(std::path::Path::new(&path))
    }

    pub fn entries(&self) -> &[ServiceEntry] {
        &self.entries
    }

    /// The first entry whose name or alias is `name` and, when given, whose protocol is `proto`.
    pub fn by_name(&self, name: &str, proto: Option<&str>) -> Option<&ServiceEntry> {
        self.entries
            .iter()
            .find(|e| (e.name == name || e.aliases.iter().any(|a| a == name)) && proto.is_none_or(|p| e.proto == p))
    }

    /// The first entry for `port` and, when given, protocol `proto`.
    pub fn by_port(&self, port: u16, proto: Option<&str>) -> Option<&ServiceEntry> {
        self.entries.iter().find(|e| e.port == port && proto.is_none_or(|p| e.proto == p))
    }
}

fn parse_line(line: &str) -> Option<ServiceEntry> {
    let line = line.split('#').next().unwrap_or("");
    let mut fields = line.split_whitespace();
    let name = fields.next()?;
    let (port, proto) = fields.next()?.split_once('/')?;
    let port: u16 = port.parse().ok()?;
    if proto.is_empty() {
        return None;
    }
    Some(ServiceEntry {
        name: name.to_string(),
        port,
        proto: proto.to_string(),
        aliases: fields.map(str::to_string).collect(),
    })
}

fn check_text(what: &str, value: &str) -> Result<()> {
    if value.contains('\0') {
        return Err(Error::InvalidArgument(format!("{what}: embedded null character")));
    }
    Ok(())
}

/// Python's `socket.getservbyname(name, proto)`: the port number of a service.
pub fn getservbyname(name: &str, proto: Option<&str>) -> Result<u16> {
    check_text("getservbyname", name)?;
    proto.map_or(Ok(()), |p| check_text("getservbyname", p))?;
    ServicesDb::system().by_name(name, proto).map(|e| e.port).ok_or(Error::ServiceNotFound)
}

/// Python's `socket.getservbyport(port, proto)`: the name of the service on a port.
/// `port` is wide so that out-of-range values get Python's OverflowError rather than wrapping.
pub fn getservbyport(port: i64, proto: Option<&str>) -> Result<String> {
    let port = u16::try_from(port).map_err(|_| Error::Overflow("getservbyport: port must be 0-65535.".into()))?;
    proto.map_or(Ok(()), |p| check_text("getservbyport", p))?;
    ServicesDb::system().by_port(port, proto).map(|e| e.name.clone()).ok_or(Error::PortNotFound)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_aliases_and_comments() {
        let db = ServicesDb::parse("http 80/tcp www # web\n# comment\nbad line\nsmtp 25/tcp mail\n");
        assert_eq!(db.entries().len(), 2);
        assert_eq!(db.by_name("www", Some("tcp")).unwrap().port, 80);
        assert_eq!(db.by_name("mail", None).unwrap().name, "smtp");
        assert!(db.by_name("http", Some("udp")).is_none());
        assert_eq!(db.by_port(25, None).unwrap().name, "smtp");
    }

    #[test]
    fn fallback_knows_the_seed_services() {
        let db = ServicesDb::fallback();
        assert_eq!(db.by_name("http", Some("tcp")).unwrap().port, 80);
        assert_eq!(db.by_name("smtp", Some("tcp")).unwrap().port, 25);
        assert_eq!(db.by_name("gopher", None).unwrap().port, 70);
        assert_eq!(db.by_port(443, Some("tcp")).unwrap().name, "https");
    }

    #[test]
    fn missing_file_uses_fallback() {
        let db = ServicesDb::load_or_fallback(std::path::Path::new("/nonexistent/services"));
        assert_eq!(db.by_name("http", Some("tcp")).unwrap().port, 80);
    }

    #[test]
    fn errors_read_like_python() {
        assert_eq!(getservbyname("no-such-service", Some("tcp")).unwrap_err().to_string(), "service/proto not found");
        assert_eq!(getservbyport(70000, None).unwrap_err().to_string(), "getservbyport: port must be 0-65535.");
        assert!(matches!(getservbyport(-1, None), Err(Error::Overflow(_))));
        assert!(matches!(getservbyname("ht\0tp", None), Err(Error::InvalidArgument(_))));
    }
}
