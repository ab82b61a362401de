//! End-to-end tests: the real server on a random port over a temporary repository, spoken to
//! over HTTP.

mod concurrency;
mod crash;
mod helpers;
mod list_order;
mod reading;
mod tokens;
mod writing;
