//! ragway's knowledge layer: sources, parsers, the chunker, embedders (dense + BM25), the vector
//! store and the incremental sync pipeline (sources → parse → chunk → embed → index). What a sync
//! knows about documents, sources and runs it keeps in the catalog (`ragway-catalog`). The gateway
//! reads what this crate writes.

pub mod chunk;
pub mod embed;
pub mod error;
pub mod ids;
pub mod lang;
pub mod model;
pub mod openai;
pub mod parse;
pub mod progress;
pub mod source;
pub mod store;
pub mod sync;

pub use error::{IngestError, Result};
pub use sync::{Indexer, SyncEvent, SyncReport};
