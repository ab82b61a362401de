//! End-to-end tests: the real server on a random port over a temporary repository, spoken to
//! over HTTP.

mod feed;
mod helpers;
mod openapi;
mod operations;
mod reading;
