//! Address parsing: listen addresses (`HOST:PORT`, `[V6]:PORT`, `PORT`), numeric
//! getaddrinfo/getnameinfo (no resolver traffic: numeric flags only), and the services
//! database format. A parsed listen address printed back parses to itself.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use netcore::resolve::{getaddrinfo, getnameinfo, NameInfoAddr, ServicesDb};
use netcore::server::parse_addr;

#[derive(Arbitrary, Debug)]
struct Input {
    text: String,
    port: String,
    family: u8,
    numeric_port: i64,
    flowinfo: Option<u32>,
    scope_id: Option<u32>,
    ni_flags: u8,
    services: String,
}

const FAMILIES: [i32; 4] = [libc::AF_UNSPEC, libc::AF_INET, libc::AF_INET6, libc::AF_UNIX];

fuzz_target!(|input: Input| {
    if let Ok(addr) = parse_addr(&input.text) {
        assert_eq!(parse_addr(&addr.to_string()).ok(), Some(addr), "{:?}", input.text);
    }

    let family = FAMILIES[input.family as usize % FAMILIES.len()];
    let flags = libc::AI_NUMERICHOST | libc::AI_NUMERICSERV;
    if let Ok(found) = getaddrinfo(Some(&input.text), Some(&input.port), family, libc::SOCK_STREAM, 0, flags) {
        for ai in found {
            assert!(family == libc::AF_UNSPEC || ai.family == family, "{ai:?}");
            if let Ok(port) = input.port.parse::<u16>() {
                assert_eq!(ai.addr.port(), port, "{:?}", input.port);
            }
        }
    }

    let addr = NameInfoAddr {
        host: input.text.clone(),
        port: input.numeric_port,
        flowinfo: input.flowinfo,
        scope_id: input.scope_id,
    };
    // NI_NUMERICHOST always: a reverse look-up would leave the machine.
    let ni_flags = libc::NI_NUMERICHOST | (i32::from(input.ni_flags) & (libc::NI_NUMERICSERV | libc::NI_DGRAM));
    let _ = getnameinfo(&addr, ni_flags);

    let db = ServicesDb::parse(&input.services);
    for e in db.entries() {
        assert!(!e.proto.is_empty() && !e.name.is_empty(), "{e:?}");
        let by_port = db.by_port(e.port, Some(&e.proto)).expect("an entry is found by its port");
        assert_eq!((by_port.port, by_port.proto.as_str()), (e.port, e.proto.as_str()));
        let by_name = db.by_name(&e.name, Some(&e.proto)).expect("an entry is found by its name");
        assert!(by_name.name == e.name || by_name.aliases.contains(&e.name));
    }
});
