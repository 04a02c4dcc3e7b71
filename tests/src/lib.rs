//! Test support for ragway's end-to-end tests: faithful local fakes of the external services
//! (speaking their real wire protocols on 127.0.0.1) and a harness that runs the real gateway.

pub mod fake_openai;
pub mod harness;
pub mod schema;
