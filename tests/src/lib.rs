//! Test support for ragway's end-to-end tests: faithful local fakes of the external services
//! (speaking their real wire protocols on 127.0.0.1) and a harness that runs the real gateway.

pub mod admin_client;
pub mod bots;
pub mod fake_bot_connector;
pub mod fake_microsoft;
pub mod fake_openai;
pub mod fake_slack;
pub mod fuzz;
pub mod fuzz_targets;
pub mod harness;
pub mod latency;
pub mod log_scan;
pub mod otlp_receiver;
pub mod samples;
pub mod schema;
pub mod static_site;
pub mod widget;
