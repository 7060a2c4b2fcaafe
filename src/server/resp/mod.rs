//! RESP, the redis protocol: the `resp` framing's request parser (`request`), the
//! connection-level commands (`session`) and the reply decoder clients use (`decode`).
//! Replies are rendered by `crate::server::reply`. See `docs/protocol.md`.

mod decode;
mod request;
pub(crate) mod session;

pub use decode::{parse_reply, ReplyLimits};
pub use request::{parse_request, ParsedRequest, ProtocolError, RequestLimits, RequestParser};
