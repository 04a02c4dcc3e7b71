//! Web sources: a list of URLs and/or sitemaps, crawled within their hosts to a depth and a page
//! limit, politely (robots.txt, per-host concurrency and delay), incrementally (conditional GET),
//! and only towards addresses the operator's [`WebFetchPolicy`] allows.
//! The sync pipeline drives a crawl in `sync::web`.

pub(crate) mod canonical;
mod charset;
mod client;
mod config;
pub(crate) mod crawl;
mod gate;
mod links;
pub(crate) mod plan;
mod policy;
mod robots;
mod sitemap;

pub use canonical::canonical;
pub use client::{FetchError, GuardedClient, MAX_REDIRECTS, check_destination};
pub use config::WebSourceConfig;
pub use policy::{AddressKind, IpNet, Refused, WebFetchPolicy, classify};
