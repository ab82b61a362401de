//! End-to-end tests: the real server on a random port over a temporary repository, spoken to
//! over HTTP.

mod as_of;
mod assets;
mod blame;
mod concurrency;
mod contract;
mod cors;
mod crash;
mod draft_secrecy;
mod feed;
mod frontends;
mod helpers;
mod history;
mod list_order;
mod locks;
mod logging;
mod maintenance;
mod openapi;
mod operations;
mod past_read_limit;
mod questions;
mod reading;
mod receiver;
mod render_limits;
mod review;
mod revision_feed;
mod search;
mod storage;
mod tokens;
mod upstream;
mod validation;
mod webhooks;
mod write_model;
mod writing;
