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
