//! End-to-end tests: the real server on a random port over a temporary repository, spoken to
//! over HTTP.

mod concurrency;
mod contract;
mod crash;
mod draft_secrecy;
mod feed;
mod helpers;
mod history;
mod list_order;
mod openapi;
mod operations;
mod reading;
mod render_limits;
mod tokens;
mod validation;
mod write_model;
mod writing;
