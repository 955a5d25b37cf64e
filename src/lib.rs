//! Switchboard: a contact-center softswitch in one binary.
//!
//! Layers, each knowing only the ones below it (see `docs/architecture.md`):
//! `sip` (codec, transactions, transports, auth, security) under `call`
//! (B2BUA legs) and the registrar, with `store` (SQLite) and `config`
//! beside them; `flow` (IVR flows, calendars) beside `config`; `crm` looks
//! callers up in an external CRM over HTTP for the IVR; `server` wires
//! profiles, sockets and tasks together.

pub mod acd;
pub mod admin;
pub mod call;
pub mod config;
pub mod crm;
pub mod flow;
pub mod logging;
pub mod media;
pub mod qa;
pub mod registrar;
pub mod server;
pub mod sip;
pub mod store;
pub mod thread_priority;
pub mod trunk;
