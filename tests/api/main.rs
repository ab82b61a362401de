//! End-to-end tests: the real server on a random port over a temporary repository, spoken to
//! over HTTP.

mod blame;
mod concurrency;
mod contract;
mod crash;
mod feed;
mod helpers;
mod history;
mod list_order;
mod locks;
mod openapi;
mod operations;
mod reading;
mod review;
mod search;
mod storage;
mod tokens;
mod writing;
