//! Channel adapters: each decodes its wire request into a `ChannelAsk`, calls the core's ask
//! lifecycle once, and encodes the answer's events into its wire format. Nothing else knows a
//! channel's protocol, and no channel imports another.

pub mod bots;
pub mod chat;
pub mod openai;
pub mod rest;
pub mod slack;
pub mod teams;
pub mod widget;
