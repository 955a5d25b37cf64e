//! Automatic call distribution: queues, agents and skills-based routing.
//!
//! - `agent`: the agent state machine (logged out, available, reserved,
//!   ringing, on call, wrap-up, not ready) and its events;
//! - `queue`: what a queue asks of agents (skills, proficiency relaxed
//!   over the wait, strategy) and the order its callers wait in;
//! - `bits`: agent sets as bitsets, for the router;
//! - `router`: the routing decision (which caller to which agent);
//! - `floor`: all of it kept consistent, sans-IO, for the ACD task;
//! - `config`: agents and queues from `contact-center/`.

pub mod agent;
pub mod bits;
pub mod config;
pub mod feature;
pub mod floor;
pub mod queue;
pub mod router;
pub mod service;

#[cfg(test)]
mod tests_floor;
#[cfg(test)]
mod tests_router;
