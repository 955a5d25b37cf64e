//! The SIP stack, our own: codec, transactions, transports, digest auth,
//! flood defence, and the interface of the core task to transaction users.

pub mod auth;
pub mod codec;
pub mod endpoint;
pub mod ids;
pub mod matching;
pub mod security;
pub mod transaction;
pub mod transport;
