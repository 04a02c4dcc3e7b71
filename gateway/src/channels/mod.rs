//! Channel adapters: each turns its wire request into an `AskRequest` and the event stream into
//! its wire format. Nothing else knows a channel's protocol.

pub mod openai;
pub mod rest;
