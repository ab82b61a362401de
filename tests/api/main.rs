//! End-to-end tests: the real server on a random port over a temporary repository, spoken to
//! over HTTP.

mod helpers;
mod history;
mod reading;
