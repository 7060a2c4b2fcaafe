//! UDP: one datagram is one request.

use std::sync::Arc;
use std::time::Duration;

use tokio::net::UdpSocket;

use super::listen::Accepting;
use super::scan::strip_line_ending;
use super::stats::add;
use super::ServerState;
use crate::server::reply::{ReplyOut, Wire};
use crate::server::service::{Request, Transport};

/// One datagram is one request; one reply datagram goes back to the sender (no newline is
/// added). With a token, a datagram must start with `TOKEN ` and is dropped otherwise.
pub(super) fn serve_udp(sock: UdpSocket) -> impl FnOnce(Arc<ServerState>) -> Accepting {
    move |inner| {
        Box::pin(async move {
            let mut buf = vec![0u8; 65536];
            let mut reply = Vec::new();
            loop {
                let (n, peer) = match sock.recv_from(&mut buf).await {
                    Ok(x) => x,
                    Err(_) => {
                        // ICMP errors from earlier replies surface here; keep serving, without
                        // spinning should an error repeat.
                        add(&inner.counters.errors, 1);
                        tokio::time::sleep(Duration::from_millis(1)).await;
                        continue;
                    }
                };
                add(&inner.counters.bytes_in, n as u64);
                add(&inner.counters.requests, 1);
                let mut data = strip_line_ending(&buf[..n]);
                if let Some(token) = &inner.token {
                    match data.strip_prefix(token.as_slice()).and_then(|r| r.strip_prefix(b" ")) {
                        Some(rest) => data = rest,
                        None => {
                            add(&inner.counters.rejected, 1);
                            continue;
                        }
                    }
                }
                let peer_text = peer.to_string();
                let request = Request::from_line(data, &peer_text, Transport::Udp);
                reply.clear();
                let mut out = ReplyOut::new(&mut reply, Wire::Text);
                let outcome = inner.dispatcher.dispatch(&request, &mut out).outcome(&mut out).await;
                if outcome.error {
                    add(&inner.counters.errors, 1);
                }
                if outcome.replied {
                    match sock.send_to(&reply, peer).await {
                        Ok(sent) => add(&inner.counters.bytes_out, sent as u64),
                        Err(_) => add(&inner.counters.errors, 1),
                    }
                }
            }
        })
    }
}
