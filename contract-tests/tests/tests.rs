//! The contract suite: one binary, driving a server on port 0 only through HTTP.

mod billing;
mod capabilities;
mod client_cli;
mod console;
mod explore_cli;
mod faults;
mod fence_faults;
mod full_decode;
mod gateway;
mod hardening;
mod hat;
mod journal;
mod openapi;
mod properties;
mod python_clients;
mod readme;
mod scenarios_cli;
mod signing;
mod tamper;
mod util;
mod verify_cli;
