//! The SIP stack, our own: codec, transactions, transports, digest auth, flood defence.

pub mod auth;
pub mod security;
pub mod transaction;
