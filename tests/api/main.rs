//! End-to-end tests: the real server on a random port over a temporary repository, spoken to
//! over HTTP.

mod concurrency;
mod contract;
mod crash;
mod feed;
mod helpers;
mod history;
mod list_order;
mod openapi;
mod operations;
mod reading;
mod receiver;
mod tokens;
mod upstream;
mod webhooks;
mod writing;
