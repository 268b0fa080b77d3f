//! The contract suite: one binary, driving a server on port 0 only through HTTP.

mod billing;
mod capabilities;
mod client_cli;
mod console;
mod faults;
mod gateway;
mod hat;
mod journal;
mod properties;
mod python_clients;
mod signing;
mod tamper;
mod util;
