//! Palimpsest: a git-backed headless CMS for a learning blog whose history is part of its
//! content.
//!
//! Layers, each depending only on those below it:
//! - [`http`]: handlers and their JSON shapes; nothing else;
//! - [`writing`]: authors' edits turned into commits by one writer thread (group commit);
//! - [`site`]: the blog as served, one immutable snapshot per branch tip;
//! - [`history`]: the per-path revision index, revisions and diffs;
//! - [`post`]: the pure domain (slugs, front matter, sections, rendering);
//! - [`store`]: the only module that touches git.

pub mod authors;
pub mod cli;
pub mod config;
pub mod error;
pub mod healthcheck;
pub mod history;
pub mod http;
pub mod metrics;
pub mod post;
pub mod site;
pub mod startup;
pub mod store;
pub mod telemetry;
pub mod writing;

/// mimalloc instead of glibc's allocator, for every binary built on this library (the
/// server, its tests and benchmarks alike): a write allocates and frees across threads
/// (HTTP workers, the writer, the thread preparing the next snapshot), and glibc's
/// `malloc`, `free` and their consolidation were an eighth of a sequential write's CPU.
/// libgit2 keeps glibc's for its own allocations.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
