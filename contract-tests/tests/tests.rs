//! The contract suite: one binary, driving a server on port 0 only through HTTP.

mod billing;
mod capabilities;
mod faults;
mod gateway;
mod hardening;
mod hat;
mod properties;
mod python_clients;
mod signing;
mod tamper;
mod util;
