//! Palimpsest: a git-backed headless CMS for a learning blog whose history is part of its
//! content.
//!
//! Layers, each depending only on those below it:
//! - [`http`]: handlers and their JSON shapes; nothing else;
//! - [`webhooks`]: telling other systems that the branch moved, beside the writer;
//! - [`search`]: full-text search over the posts and their past versions, following the site;
//! - [`writing`]: authors' edits turned into commits by one writer thread (group commit);
//! - [`upstream`]: the remote the served branch mirrors, and the push every write waits for;
//! - [`site`]: the blog as served, one immutable snapshot per branch tip;
//! - [`history`]: the per-path revision index, revisions and diffs;
//! - [`store`]: the only module that touches git; it names files with [`post`]'s slugs and
//!   asset paths;
//! - [`post`]: the pure domain (slugs, front matter, sections, rendering), depending on no
//!   other layer.

pub mod authors;
pub mod cli;
pub mod config;
pub mod error;
pub mod healthcheck;
pub mod history;
pub mod http;
pub mod metrics;
pub mod own_files;
pub mod post;
pub mod search;
pub mod site;
pub mod startup;
pub mod store;
pub mod telemetry;
pub mod upstream;
pub mod webhooks;
pub mod writing;

/// mimalloc instead of glibc's allocator, for every binary built on this library (the
/// server, its tests and benchmarks alike): a write allocates and frees across threads
/// (HTTP workers, the writer, the thread preparing the next snapshot), where glibc's
/// `malloc`, `free` and their consolidation weighed on every write. libgit2 keeps glibc's
/// for its own allocations. See [`configure_allocator`].
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Tells mimalloc to give freed memory back to the system at once, as glibc does: by
/// default it keeps freed pages for a while and gives them back only on a later
/// allocation, so a server left idle after building its history index would keep memory
/// it no longer uses. Called first thing in `main`.
pub fn configure_allocator() {
    // `mi_option_purge_delay` in the mimalloc.h (version 3) of libmimalloc-sys 0.1.49, whose
    // bindings do not name it; Cargo.toml pins that version, as the number is not checked.
    const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;
    // SAFETY: setting an option is a plain store into mimalloc's table of options.
    unsafe { libmimalloc_sys::mi_option_set(PURGE_DELAY, 0) }
}
